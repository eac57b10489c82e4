//! Which tenant a talk belongs to, remembered for a while: every beacon names its talk, and
//! checking it must not cost a query per request. Answers are kept 60 s (a talk that does not
//! exist, 5 s), so a talk moved to the trash stops collecting events within a minute.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrotape_store::{PgPool, StoreError, analytics as store};
use tokio::sync::Mutex;
use uuid::Uuid;

const FOUND_TTL: Duration = Duration::from_secs(60);
const MISSING_TTL: Duration = Duration::from_secs(5);
/// Past this many remembered talks the memory starts over (an attacker naming random ids must
/// not grow it without bound).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct TalkDirectory {
    known: Mutex<HashMap<Uuid, (Option<Uuid>, Instant)>>,
}

impl TalkDirectory {
    /// The tenant of `talk`, or `None` when no such talk exists outside the trash.
    pub async fn tenant_of(&self, pool: &PgPool, talk: Uuid) -> Result<Option<Uuid>, StoreError> {
        if let Some((tenant, at)) = self.known.lock().await.get(&talk) {
            let ttl = if tenant.is_some() {
                FOUND_TTL
            } else {
                MISSING_TTL
            };
            if at.elapsed() < ttl {
                return Ok(*tenant);
            }
        }
        let tenant = store::talk_tenant(pool, talk).await?;
        let mut known = self.known.lock().await;
        if known.len() >= MAX_ENTRIES {
            known.clear();
        }
        known.insert(talk, (tenant, Instant::now()));
        Ok(tenant)
    }
}
