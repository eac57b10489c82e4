//! API keys: `ft_` + 256 random bits (URL-safe base64). The secret is shown once and only its
//! SHA-256 is stored; a presented key is hashed and looked up by that hash, so no secret is
//! compared byte by byte anywhere (nothing to time).

use ferrotape_model::TenantId;
use ferrotape_model::api::{API_KEY_PREFIX, API_KEY_SHOWN_CHARS, CreatedApiKey, NewApiKey};
use ferrotape_store::{PgPool, StoreError, api_keys};
use uuid::Uuid;

use crate::tokens::{looks_like_token, random_token, token_hash};

/// A fresh key: the secret for its owner, what lists show of it, and what is stored.
pub struct MintedKey {
    pub secret: String,
    pub prefix: String,
    pub hash: [u8; 32],
}

pub fn mint() -> MintedKey {
    let secret = format!("{API_KEY_PREFIX}{}", random_token());
    MintedKey {
        prefix: secret[..API_KEY_PREFIX.len() + API_KEY_SHOWN_CHARS].to_owned(),
        hash: token_hash(&secret),
        secret,
    }
}

/// The stored hash of a presented key; `None` when it cannot be one of ours (refused without
/// a query).
pub fn presented_hash(presented: &str) -> Option<[u8; 32]> {
    presented
        .strip_prefix(API_KEY_PREFIX)
        .filter(|rest| looks_like_token(rest))
        .map(|_| token_hash(presented))
}

/// Creates a key for `user`; the secret in the answer is never available again.
pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    user: Uuid,
    request: NewApiKey,
) -> Result<CreatedApiKey, StoreError> {
    let request = request.normalized().map_err(StoreError::Invalid)?;
    let minted = mint();
    let key = api_keys::create(
        pool,
        tenant,
        user,
        &request.name,
        &request.scopes,
        &minted.prefix,
        &minted.hash,
    )
    .await?;
    Ok(CreatedApiKey {
        key,
        secret: minted.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_are_recognised_and_others_are_not() {
        let key = mint();
        assert!(key.secret.starts_with("ft_") && key.secret.len() == 46);
        assert!(key.secret.starts_with(&key.prefix) && key.prefix.len() == 11);
        assert_eq!(presented_hash(&key.secret), Some(key.hash));
        assert_ne!(mint().secret, key.secret);
        for bad in [
            "",
            "ft_",
            "ft_short",
            &key.secret[3..],
            &format!("{}x", key.secret),
        ] {
            assert_eq!(presented_hash(bad), None, "{bad}");
        }
    }
}
