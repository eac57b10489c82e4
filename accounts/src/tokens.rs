//! Secrets that leave the server: random opaque tokens (refresh tokens, mailed links), stored
//! only as SHA-256, and the signed JWT access token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrotape_model::{Role, SessionUser, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// 256 random bits, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    bytes
}

/// What the database keeps of a token. The tokens carry 256 bits of entropy, so a fast hash
/// is enough: nobody can guess their way back from the digest.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a string could be one of our tokens; anything else is refused before a query.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The claims of an access token. Enough to render a page for the user without a query;
/// privileged actions re-read the user (see `Accounts::require_role`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The tenant the token was issued for; a token presented to another tenant is ignored.
    pub tid: Uuid,
    /// The login (refresh-token family) this token belongs to.
    pub sid: Uuid,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub iat: i64,
    pub exp: i64,
}

impl AccessClaims {
    pub fn tenant(&self) -> TenantId {
        TenantId(self.tid)
    }

    pub fn user(&self) -> SessionUser {
        SessionUser {
            id: self.sub,
            email: self.email.clone(),
            display_name: self.name.clone(),
            role: self.role,
        }
    }
}

/// HS256 with the installation's key.
#[derive(Clone)]
pub struct AccessTokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl AccessTokenKeys {
    pub fn new(secret: &[u8]) -> AccessTokenKeys {
        AccessTokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a valid, unexpired token (no leeway); `None` for anything else: a bad
    /// signature, another algorithm (including `none`), garbage.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::from_u128(7),
            tid: Uuid::from_u128(1),
            sid: Uuid::from_u128(9),
            role: Role::Editor,
            email: "a@example.com".into(),
            name: "A".into(),
            iat: 0,
            exp,
        }
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_signed_token_verifies_with_its_key_only() {
        let keys = AccessTokenKeys::new(&[1u8; 32]);
        let valid = claims(now() + 60);
        let token = keys.sign(&valid);
        assert_eq!(keys.verify(&token), Some(valid));
        assert_eq!(AccessTokenKeys::new(&[2u8; 32]).verify(&token), None);
    }

    #[test]
    fn expired_tampered_and_unsigned_tokens_are_refused() {
        let keys = AccessTokenKeys::new(&[1u8; 32]);
        assert_eq!(keys.verify(&keys.sign(&claims(now() - 1))), None);

        // Promote ourselves to admin by editing the payload: the signature no longer matches.
        let token = keys.sign(&claims(now() + 60));
        let parts: Vec<&str> = token.split('.').collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let forged = URL_SAFE_NO_PAD.encode(payload.replace("editor", "admin"));
        assert_eq!(
            keys.verify(&format!("{}.{forged}.{}", parts[0], parts[2])),
            None
        );

        // alg=none with no signature.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(keys.verify(&format!("{header}.{}.", parts[1])), None);
        assert_eq!(keys.verify("garbage"), None);
    }

    #[test]
    fn random_tokens_are_distinct_and_recognisable() {
        let a = random_token();
        assert!(looks_like_token(&a));
        assert_ne!(a, random_token());
        assert_eq!(token_hash(&a), token_hash(&a));
        assert!(!looks_like_token("../../etc/passwd"));
        assert!(!looks_like_token(&"a".repeat(44)));
    }
}
