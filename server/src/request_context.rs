//! The first thing every request passes: who sent it (client IP, through trusted proxies
//! only), which tenant it belongs to (host-name mapping, or `X-Tenant-ID` from a trusted
//! proxy), the origin links in mail should use, and whether cookies must be `Secure`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::{ClientContext, RequestContext};
use ferrotape_model::TenantId;
use ferrotape_store::tenants;
use ipnet::IpNet;

use crate::cli::CookieSecure;
use crate::error::ApiError;
use crate::state::AppState;

/// Settings from the command line that shape how requests are read.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub trusted_proxies: Vec<IpNet>,
    /// Origin for mail links when the host name says nothing better (`FERROTAPE_PUBLIC_URL`,
    /// or the listen address).
    pub default_origin: String,
    pub cookie_secure: CookieSecure,
}

impl HttpSettings {
    fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let settings = &state.http;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip());
    let trusted = settings.trusts(peer);
    let headers = request.headers();

    let client_ip = if trusted {
        forwarded_client(headers, settings).unwrap_or(peer)
    } else {
        peer
    };
    let authority = request_authority(&request, trusted);
    let host = host_of(&authority);
    let forwarded_https = trusted
        && header_str(headers, "x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));

    let (tenant, mapped) = match resolve_tenant(&state, headers, trusted, &host).await {
        Ok(found) => found,
        Err(response) => return response,
    };

    let loopback = is_loopback(&host);
    let scheme = if forwarded_https || !loopback {
        "https"
    } else {
        "http"
    };
    // Only a host we know (mapped to the tenant, or loopback) may appear in mailed links; any
    // other Host header could be an attacker's ("password reset poisoning").
    let origin = if mapped || loopback {
        format!("{scheme}://{authority}")
    } else {
        settings.default_origin.clone()
    };
    let secure_cookies = match settings.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => forwarded_https || !loopback,
    };

    let context = RequestContext {
        tenant,
        client: ClientContext {
            ip: client_ip,
            origin,
        },
        authority,
        secure_cookies,
        https: forwarded_https,
    };
    request.extensions_mut().insert(tenant);
    request.extensions_mut().insert(context);
    next.run(request).await
}

async fn resolve_tenant(
    state: &AppState,
    headers: &HeaderMap,
    trusted: bool,
    host: &str,
) -> Result<(TenantId, bool), Response> {
    if let Some(value) = header_str(headers, "x-tenant-id") {
        if trusted {
            let tenant = value
                .parse::<uuid::Uuid>()
                .map(TenantId)
                .map_err(|_| bad_request("X-Tenant-ID is not a tenant id"))?;
            return match tenants::exists(&state.db, tenant).await {
                Ok(true) => Ok((tenant, true)),
                Ok(false) => Err(bad_request("X-Tenant-ID names no tenant")),
                Err(err) => Err(database_down(err)),
            };
        }
        tracing::debug!("ignoring X-Tenant-ID from an untrusted peer");
    }
    match tenants::tenant_for_host(&state.db, host).await {
        Ok(Some(tenant)) => Ok((tenant, true)),
        Ok(None) => Ok((TenantId::DEFAULT, false)),
        Err(err) => Err(database_down(err)),
    }
}

/// Without the database no request can be placed in a tenant: a clear 503, details logged.
fn database_down(err: ferrotape_store::StoreError) -> Response {
    tracing::error!(%err, "cannot resolve the tenant of a request");
    ApiError::Unavailable("the database").into_response()
}

fn bad_request(message: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The client behind trusted proxies: the right-most X-Forwarded-For entry that is not itself
/// a trusted proxy (entries left of it can be forged by the client).
fn forwarded_client(headers: &HeaderMap, settings: &HttpSettings) -> Option<IpAddr> {
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|ip| !settings.trusts(**ip))
        .or(chain.first())
        .copied()
}

/// `host[:port]` as the browser addressed it, lower case.
fn request_authority(request: &Request, trusted: bool) -> String {
    let headers = request.headers();
    let forwarded = trusted
        .then(|| header_str(headers, "x-forwarded-host"))
        .flatten();
    forwarded
        .or_else(|| header_str(headers, header::HOST.as_str()))
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The host of an authority, without port or IPv6 brackets.
fn host_of(authority: &str) -> String {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_owned();
    }
    authority.split(':').next().unwrap_or_default().to_owned()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_port_and_brackets() {
        assert_eq!(host_of("talks.example.org:8443"), "talks.example.org");
        assert_eq!(host_of("[::1]:3000"), "::1");
        assert_eq!(host_of("127.0.0.1"), "127.0.0.1");
        assert!(is_loopback("::1") && is_loopback("127.0.0.1") && is_loopback("localhost"));
        assert!(!is_loopback("talks.example.org") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn the_client_is_the_last_untrusted_forwarded_address() {
        let settings = HttpSettings {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            default_origin: "http://127.0.0.1:3000".into(),
            cookie_secure: CookieSecure::Auto,
        };
        let mut headers = HeaderMap::new();
        // The client forged the first entry; the proxy appended the real one.
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(
            forwarded_client(&headers, &settings),
            Some("203.0.113.9".parse().unwrap())
        );
    }
}
