//! Settings types of the request pipeline and the API, built from the command line. They live
//! here, apart from the modules that use them, so `state::AppState` can hold them without
//! importing a module that imports `state` back.

use std::net::IpAddr;

use ferrotape_model::upload::DEFAULT_MAX_UPLOAD_BYTES;
use ferrotape_store::uploads::UploadQuotas;
use ipnet::IpNet;

use crate::authority::Authority;
use crate::cli::CookieSecure;

/// Settings from the command line that shape how requests are read.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub trusted_proxies: Vec<IpNet>,
    /// Origin for mail links when the host name says nothing better (`FERROTAPE_PUBLIC_URL`,
    /// or the listen address).
    pub default_origin: String,
    pub cookie_secure: CookieSecure,
    /// The front server's internal location of the media directory (`X-Accel-Redirect`), for
    /// `/media` requests a trusted proxy relays.
    pub media_accel_redirect: Option<String>,
}

impl HttpSettings {
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The origin of a host name found in `tenant_hosts`: the configured public origin when it
    /// names that host (it carries the right scheme and port), else `https://{host}` (plain
    /// `http` for a loopback name).
    pub(crate) fn origin_of_stored_host(&self, host: &str) -> String {
        let configured = self
            .default_origin
            .split_once("://")
            .and_then(|(_, authority)| Authority::parse(authority).ok());
        if configured.is_some_and(|a| a.host_text() == host) {
            return self.default_origin.clone();
        }
        let loopback = Authority::parse(host).is_ok_and(|a| a.is_loopback());
        let scheme = if loopback { "http" } else { "https" };
        format!("{scheme}://{host}")
    }
}

/// Settings of the upload API.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Used when the tenant sets no limit.
    pub max_bytes: u64,
    pub quotas: UploadQuotas,
}

/// Uploads one user may have open at once unless configured otherwise.
pub const DEFAULT_MAX_OPEN_UPLOADS_PER_USER: u32 = 10;

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            quotas: UploadQuotas {
                open_per_user: Some(DEFAULT_MAX_OPEN_UPLOADS_PER_USER),
                tenant_storage_bytes: None,
            },
        }
    }
}
