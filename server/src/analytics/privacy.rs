//! What the server keeps of who is watching: a 16-byte hash of (the day's salt, tenant, client
//! network, user agent) for counting unique viewers, never the address or the user agent. Each
//! day has its own random salt, deleted two days later, so hashes cannot be linked across days
//! or recomputed from a log. A request carrying Global Privacy Control (`Sec-GPC: 1`) or Do Not
//! Track (`DNT: 1`) is counted in aggregates only: no hash, no viewer id, no user.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::http::HeaderMap;
use ferrotape_accounts::limits::network_of;
use ferrotape_store::PgPool;
use ferrotape_store::analytics as store;
use sha2::{Digest, Sha256};
use time::Date;
use tokio::sync::Mutex;
use uuid::Uuid;

/// The request asked not to be tracked.
pub fn opted_out(headers: &HeaderMap) -> bool {
    let is_one = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "1")
    };
    is_one("sec-gpc") || is_one("dnt")
}

pub fn viewer_hash(salt: &[u8; 32], tenant: Uuid, client: IpAddr, user_agent: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(tenant.as_bytes());
    match network_of(client) {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
    hasher.update(user_agent.as_bytes());
    let digest = hasher.finalize();
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&digest[..16]);
    hash
}

/// The daily salts this process knows (at most a few days' worth).
#[derive(Default)]
pub struct Salts {
    known: Mutex<HashMap<Date, [u8; 32]>>,
}

impl Salts {
    /// `day`'s salt: from memory, or made/read once through the database.
    pub async fn for_day(
        &self,
        pool: &PgPool,
        day: Date,
    ) -> Result<[u8; 32], ferrotape_store::StoreError> {
        if let Some(salt) = self.known.lock().await.get(&day) {
            return Ok(*salt);
        }
        let salt = store::daily_salt(pool, day).await?;
        let mut known = self.known.lock().await;
        known.retain(|d, _| (*d - day).whole_days().abs() <= 1);
        known.insert(day, salt);
        Ok(salt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_hash_depends_on_salt_tenant_network_and_agent_only() {
        let salt = [7u8; 32];
        let tenant = Uuid::from_u128(1);
        let ip: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let base = viewer_hash(&salt, tenant, ip, "UA");
        assert_eq!(base, viewer_hash(&salt, tenant, same_network, "UA"));
        assert_ne!(base, viewer_hash(&[8u8; 32], tenant, ip, "UA"));
        assert_ne!(base, viewer_hash(&salt, Uuid::from_u128(2), ip, "UA"));
        assert_ne!(
            base,
            viewer_hash(&salt, tenant, "2001:db8:1:3::1".parse().unwrap(), "UA")
        );
        assert_ne!(base, viewer_hash(&salt, tenant, ip, "UA2"));
    }

    #[test]
    fn gpc_and_dnt_opt_out() {
        let mut headers = HeaderMap::new();
        assert!(!opted_out(&headers));
        headers.insert("sec-gpc", HeaderValue::from_static("1"));
        assert!(opted_out(&headers));
        let mut headers = HeaderMap::new();
        headers.insert("dnt", HeaderValue::from_static("1"));
        assert!(opted_out(&headers));
        headers.insert("dnt", HeaderValue::from_static("0"));
        assert!(!opted_out(&headers));
    }
}
