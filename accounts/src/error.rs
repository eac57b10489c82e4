use std::time::Duration;

use ferrotape_model::AuthFailure;
use ferrotape_store::StoreError;

/// Why an account operation did not happen. The server maps these to statuses:
/// `Failure` → 400/401/409, `RateLimited` → 429 with Retry-After, `Unauthenticated` → 401,
/// `Forbidden` → 403 (own tenant only; other tenants' rows are `NotFound`), `NotFound` → 404.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Failure(AuthFailure),
    #[error("too many attempts; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    #[error("log in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<AuthFailure> for AccountError {
    fn from(failure: AuthFailure) -> Self {
        AccountError::Failure(failure)
    }
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AccountError::NotFound,
            other => AccountError::Store(other),
        }
    }
}

impl From<sqlx::Error> for AccountError {
    fn from(err: sqlx::Error) -> Self {
        AccountError::Store(StoreError::Database(err))
    }
}
