//! Password hashing with argon2id.
//!
//! Parameters (OWASP Password Storage Cheat Sheet, 2024): 19 MiB of memory, 2 passes, 1 lane;
//! about 25 ms per hash on this 2-core machine in a release build. They are stored in each PHC
//! string, so raising them later keeps old hashes verifiable.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: a hash takes tens of milliseconds of pure CPU.
pub async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("the hashing thread does not panic")
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 accepts any password up to the length model::account allows")
        .to_string()
}

/// Verifies on a blocking thread. With no stored hash (unknown email) it checks against a
/// dummy hash so the answer takes as long as for a real account.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash is not a valid PHC string");
            return false;
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && known
    })
    .await
    .expect("the hashing thread does not panic")
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_now("not a password of anybody"));

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery staple".into()).await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery staple".into(), Some(stored.clone())).await);
        assert!(!verify("correct horse battery stapl".into(), Some(stored.clone())).await);
        // Same password, new salt: a different hash.
        assert_ne!(hash("correct horse battery staple".into()).await, stored);
    }

    #[tokio::test]
    async fn unknown_accounts_and_corrupt_hashes_never_verify() {
        assert!(!verify("not a password of anybody".into(), None).await);
        assert!(!verify("anything".into(), Some("plaintext".into())).await);
    }
}
