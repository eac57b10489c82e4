//! Tenants: every tenant-owned row carries a `TenantId`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identifies the tenant that owns a row. A newtype so a talk id can never be passed where a
/// tenant id is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// The tenant created by the first migration; single-tenant installs use only this one.
    pub const DEFAULT: TenantId = TenantId(Uuid::from_u128(1));
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
