//! Which tenant a request's host name belongs to, remembered in-process: every request asks,
//! so without it every beacon, segment and page would wait on a query first, and none could be
//! placed while PostgreSQL restarts.
//!
//! An answer is reused for [`HOST_TTL`] (a newly mapped host shows within it). When the
//! database cannot answer, the last answer for that host is used for up to [`STALE_FOR`]:
//! host mappings change rarely, and a request that would otherwise fail is better placed by a
//! minute-old answer than refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrotape_model::TenantId;
use ferrotape_store::{PgPool, StoreError, tenants};

/// How long an answer is reused without asking again.
pub const HOST_TTL: Duration = Duration::from_secs(5);
/// How long an old answer stands in while the database is away.
pub const STALE_FOR: Duration = Duration::from_secs(600);
/// At most this many host names are remembered (hostile clients send any `Host`): beyond it,
/// stale answers go first, then all.
const MAX_ENTRIES: usize = 4096;

struct Entry {
    looked_up: Instant,
    tenant: Option<TenantId>,
}

pub struct HostTenants {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Default for HostTenants {
    fn default() -> HostTenants {
        HostTenants::with_ttl(HOST_TTL)
    }
}

impl HostTenants {
    /// Answers reused for `ttl` (zero: every request asks the database, and old answers are
    /// used only when it cannot answer).
    pub fn with_ttl(ttl: Duration) -> HostTenants {
        HostTenants {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant `host` (lower case, without port) is mapped to, if any.
    pub async fn tenant_for(
        &self,
        pool: &PgPool,
        host: &str,
    ) -> Result<Option<TenantId>, StoreError> {
        if let Some(tenant) = self.remembered(host, self.ttl) {
            return Ok(tenant);
        }
        match tenants::tenant_for_host(pool, host).await {
            Ok(tenant) => {
                self.remember(host, tenant);
                Ok(tenant)
            }
            Err(err) => match self.remembered(host, STALE_FOR) {
                Some(tenant) => {
                    tracing::warn!(%err, host, "the database cannot place a request; using the host's last known tenant");
                    Ok(tenant)
                }
                None => Err(err),
            },
        }
    }

    fn remembered(&self, host: &str, within: Duration) -> Option<Option<TenantId>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(host)
            .filter(|entry| entry.looked_up.elapsed() < within)
            .map(|entry| entry.tenant)
    }

    fn remember(&self, host: &str, tenant: Option<TenantId>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(host) {
            entries.retain(|_, entry| entry.looked_up.elapsed() < STALE_FOR);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            host.to_owned(),
            Entry {
                looked_up: Instant::now(),
                tenant,
            },
        );
    }
}
