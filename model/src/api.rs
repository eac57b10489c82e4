//! Shapes of the REST API (`/api/v1/…`) that are not the studio's own types: pages of a list,
//! request bodies, API keys. The server documents them in its OpenAPI document (feature
//! `openapi`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::studio::StudioVideo;
use crate::talk::{Speaker, StudioTalk, Tag, TalkFields};

/// Items per page when the request names no `limit`.
pub const DEFAULT_PAGE: u32 = 50;
/// The largest `limit` a list accepts.
pub const MAX_PAGE: u32 = 100;

/// One page of talks, newest first. `next` is the cursor of the following page (pass it as
/// `cursor`), absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TalkPage {
    pub items: Vec<StudioTalk>,
    pub next: Option<String>,
}

/// One page of speakers, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpeakerPage {
    pub items: Vec<Speaker>,
    pub next: Option<String>,
}

/// One page of tags, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagPage {
    pub items: Vec<Tag>,
    pub next: Option<String>,
}

/// One page of videos, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoPage {
    pub items: Vec<ApiVideo>,
    pub next: Option<String>,
}

/// A video as the API shows it: the studio's row and the talk it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiVideo {
    #[serde(flatten)]
    pub video: StudioVideo,
    /// The talk it was attached to (which serves it once it is ready).
    pub talk_id: Option<Uuid>,
}

/// `POST /api/v1/talks`: the talk's fields, and optionally one of the caller's videos that has
/// no talk yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTalk {
    #[serde(flatten)]
    pub fields: TalkFields,
    #[serde(default)]
    pub video_id: Option<Uuid>,
}

/// `PUT /api/v1/talks/{id}/video`: the video the talk serves from now on (once it is ready;
/// until then the talk keeps serving its previous one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoAttachment {
    pub video_id: Uuid,
}

/// A tag's name, to create or rename it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TagName {
    pub name: String,
}

/// What an API key allows: `read` (GET and HEAD requests) or `write` (everything else too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    Read,
    Write,
}

impl ApiScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Option<ApiScope> {
        match text {
            "read" => Some(ApiScope::Read),
            "write" => Some(ApiScope::Write),
            _ => None,
        }
    }
}

/// Every API key secret starts with this, so leaked keys are recognisable (secret scanners).
pub const API_KEY_PREFIX: &str = "ft_";
/// Characters of the secret (after `ft_`) shown in lists.
pub const API_KEY_SHOWN_CHARS: usize = 8;
pub const MAX_API_KEY_NAME_CHARS: usize = 100;
/// Keys one user may hold (revoked ones do not count).
pub const MAX_API_KEYS_PER_USER: i64 = 50;

/// `POST /api/v1/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKey {
    /// What the key is for ("CI upload script").
    pub name: String,
    /// At least one.
    pub scopes: Vec<ApiScope>,
}

impl NewApiKey {
    /// The name trimmed, the scopes sorted without duplicates; refuses an empty or long name
    /// and an empty scope list.
    pub fn normalized(mut self) -> Result<NewApiKey, crate::talk::FieldError> {
        use crate::talk::FieldError;
        self.name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.name.is_empty() {
            return Err(FieldError::new("name", "a key needs a name"));
        }
        if self.name.chars().count() > MAX_API_KEY_NAME_CHARS {
            return Err(FieldError::new(
                "name",
                format!("a key's name is at most {MAX_API_KEY_NAME_CHARS} characters"),
            ));
        }
        self.scopes.sort();
        self.scopes.dedup();
        if self.scopes.is_empty() {
            return Err(FieldError::new(
                "scopes",
                "choose at least one scope: read, write",
            ));
        }
        Ok(self)
    }
}

/// An API key as lists show it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The secret's first characters (`ft_Ab12Cd34`), to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<ApiScope>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// To the minute.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// `ft_…`: send it as `Authorization: Bearer ft_…`. Not stored; it cannot be shown again.
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_need_a_name_and_a_scope() {
        let key = |name: &str, scopes: Vec<ApiScope>| NewApiKey {
            name: name.into(),
            scopes,
        };
        let ok = key(
            "  CI   script ",
            vec![ApiScope::Write, ApiScope::Read, ApiScope::Write],
        )
        .normalized()
        .unwrap();
        assert_eq!(ok.name, "CI script");
        assert_eq!(ok.scopes, vec![ApiScope::Read, ApiScope::Write]);
        assert_eq!(
            key(" ", vec![ApiScope::Read])
                .normalized()
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(key("x", vec![]).normalized().unwrap_err().field, "scopes");
        assert_eq!(
            key(&"x".repeat(101), vec![ApiScope::Read])
                .normalized()
                .unwrap_err()
                .field,
            "name"
        );
    }
}
