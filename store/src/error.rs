use thiserror::Error;

/// Errors from repositories. Callers map `NotFound` and `Conflict` to 4xx and log the rest.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique or check constraint rejected the write; the message is safe to show to users.
    #[error("{0}")]
    Conflict(String),
    /// Input the rules refuse, naming the field (a 422 with the message).
    #[error("{0}")]
    Invalid(ferrotape_model::talk::FieldError),
    /// The row changed since the caller read it (a stale `If-Match` or editor tab); nothing
    /// was written. `current` is its revision now.
    #[error("this was changed meanwhile (now at revision {current}): reload and try again")]
    Stale { current: i64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps constraint violations to `Conflict` so a duplicate slug is a clear 4xx, not a 500.
    pub fn from_write(err: sqlx::Error, what: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return StoreError::Conflict(format!("{what} already exists"));
                }
                sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(format!("{what} is not valid: {}", db.message()));
                }
                _ => {}
            }
        }
        StoreError::Database(err)
    }
}
