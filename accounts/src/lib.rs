//! Accounts: who a request is, and the flows that establish it.
//!
//! - `password`: argon2id hashing (parameters documented there).
//! - `tokens`: random opaque tokens stored as SHA-256, and the JWT access token.
//! - `limits`: per-IP and per-account rate limits (governor).
//! - `mailer`: SMTP delivery of the mail outbox, or holding it when no SMTP is configured.
//! - `api_keys`: API keys (`ft_…`) minted, hashed, recognised.
//! - `cookies`: the session cookies (set and read).
//! - `media_urls`: short-lived signed `/media` URLs for editors' previews.
//! - `service`: the flows (sign up, log in, refresh, log out, verify, reset, admin changes).
//!
//! HTTP lives in the server (cookies, CSRF, status codes); the UI calls these through server
//! functions. Both only ever see `Accounts`.

pub mod api_keys;
pub mod cookies;
pub mod error;
pub mod limits;
pub mod mailer;
pub mod media_urls;
pub mod password;
pub mod request;
pub mod service;
pub mod stream_keys;
pub mod tokens;

pub use error::AccountError;
pub use request::RequestContext;
pub use service::{Accounts, AccountsConfig, ClientContext, IssuedSession, RefreshOutcome};
pub use tokens::AccessClaims;
