//! What the admin pages show: users and the mail outbox.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    pub disabled: bool,
    /// RFC 3339 on the wire (the JSON API returns this type too).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    /// Empty once delivered (links in mail are the recipient's secret).
    pub body: String,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    /// True when no SMTP server is configured, so mail waits here.
    pub holds_mail: bool,
    pub mails: Vec<OutboxMail>,
}
