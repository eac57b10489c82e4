//! Stream keys: `live_` + HMAC-SHA256(a key derived from the server's secret; the tenant, the
//! stream and its key generation), URL-safe base64. Derived rather than random, so the studio
//! can show a key again without the database holding it; the database keeps only its SHA-256,
//! which the publish webhook looks up (one indexed lookup, nothing compared byte by byte).
//! Regenerating a key is counting the generation up: the old key then matches no row.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrotape_model::TenantId;
use ferrotape_model::live::{STREAM_KEY_PREFIX, looks_like_stream_key};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::tokens::token_hash;

type HmacSha256 = Hmac<Sha256>;

/// Derives stream keys.
#[derive(Clone)]
pub struct StreamKeys {
    key: [u8; 32],
}

impl StreamKeys {
    /// Keys derived from `secret` (the token-signing key) through a key of their own, so a
    /// stream key can never pass for a signature of anything else.
    pub fn from_secret(secret: &[u8]) -> StreamKeys {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"ferrotape stream keys v1");
        StreamKeys {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A new stream's id and the stored hash of its first key.
    pub fn mint(&self, tenant: TenantId) -> (Uuid, [u8; 32]) {
        let stream = Uuid::new_v4();
        (stream, self.stored_hash(tenant, stream, 1))
    }

    /// The key of `stream` at `generation`.
    pub fn key(&self, tenant: TenantId, stream: Uuid, generation: i32) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(tenant.0.as_bytes());
        mac.update(stream.as_bytes());
        mac.update(&generation.to_be_bytes());
        format!(
            "{STREAM_KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// What the database stores of the key of `stream` at `generation`.
    pub fn stored_hash(&self, tenant: TenantId, stream: Uuid, generation: i32) -> [u8; 32] {
        token_hash(&self.key(tenant, stream, generation))
    }
}

/// The stored hash a presented key would have; `None` when it cannot be a stream key
/// (refused without a query).
pub fn presented_hash(presented: &str) -> Option<[u8; 32]> {
    looks_like_stream_key(presented).then(|| token_hash(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_per_generation_and_differ_across_everything_else() {
        let keys = StreamKeys::from_secret(&[7; 64]);
        let (tenant, stream) = (TenantId::DEFAULT, Uuid::from_u128(1));
        let first = keys.key(tenant, stream, 1);
        assert!(looks_like_stream_key(&first), "{first}");
        assert_eq!(first, keys.key(tenant, stream, 1));
        assert_ne!(first, keys.key(tenant, stream, 2));
        assert_ne!(first, keys.key(tenant, Uuid::from_u128(2), 1));
        assert_ne!(first, keys.key(TenantId(Uuid::from_u128(9)), stream, 1));
        assert_ne!(
            first,
            StreamKeys::from_secret(&[8; 64]).key(tenant, stream, 1)
        );
        assert_eq!(
            presented_hash(&first),
            Some(keys.stored_hash(tenant, stream, 1))
        );
    }

    #[test]
    fn malformed_keys_have_no_hash() {
        for bad in ["", "live_", "ft_abc", "live_short", "live_../../etc/passwd"] {
            assert_eq!(presented_hash(bad), None, "{bad}");
        }
    }
}
