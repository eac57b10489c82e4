//! The error type every server function returns, typed end to end (server → wire → browser).

use ferrotape_model::AuthFailure;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Input the user can fix; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// An account action was refused; the failure says why in the user's terms.
    #[error("{0}")]
    Auth(AuthFailure),
    #[error("Too many attempts. Wait {0} seconds and try again.")]
    RateLimited(u64),
    #[error("Log in to continue.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// One field of a form the rules refuse; the form marks that field.
    #[error("{0}")]
    Field(ferrotape_model::talk::FieldError),
    /// The talk lives at another slug now (its old one redirects forever).
    #[error("this talk has moved to /talks/{0}")]
    Moved(String),
    /// What the form edited changed meanwhile (another tab, an API client); nothing was saved.
    #[error(
        "this was changed elsewhere meanwhile, so nothing was saved: reload to see the changes"
    )]
    Stale,
    /// The database or another dependency failed; details are in the server log only.
    #[error("the service is temporarily unavailable; please try again in a moment")]
    Unavailable,
    /// Transport or (de)serialisation failures reported by the server-function layer.
    #[error("{0}")]
    ServerFn(String),
}

impl AppError {
    /// A stable code for `?error=` when a form posted without JavaScript is sent back.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Auth(failure) => failure.code(),
            AppError::RateLimited(_) => AuthFailure::RateLimited.code(),
            AppError::NotFound => "not_found",
            AppError::Invalid(_) | AppError::ServerFn(_) => "invalid",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unavailable => "unavailable",
            AppError::Field(field) => field_code(&field.field),
            AppError::Stale => "stale",
            AppError::Moved(_) => "not_found",
        }
    }

    /// The message for a code from `?error=`; unknown codes show nothing (a crafted link
    /// cannot put words on the page).
    pub fn message_for_code(code: &str) -> Option<String> {
        if let Some(failure) = AuthFailure::from_code(code) {
            return Some(failure.to_string());
        }
        let message = match code {
            "not_found" => "That no longer exists.",
            "invalid" => "That did not work: check the form and try again.",
            "unauthenticated" => "Log in to continue.",
            "forbidden" => "You are not allowed to do that.",
            "unavailable" => {
                "The service is temporarily unavailable; please try again in a moment."
            }
            "stale" => {
                "This was changed elsewhere meanwhile, so nothing was saved: reload to see the changes."
            }
            "invalid_title" => "Check the title: it is required and at most 300 characters.",
            "invalid_slug" => {
                "Check the address: use a–z, 0–9 and hyphens, not a reserved word, not one another talk has or had."
            }
            "invalid_description" => "The description is too long (at most 20,000 characters).",
            "invalid_language" => "The language is a tag such as en or pt-BR.",
            "invalid_event" => "The event name is at most 200 characters.",
            "invalid_tags" => {
                "Check the tags: at most 20, each at most 64 characters with a letter or digit."
            }
            "invalid_speakers" => {
                "Check the speakers: each once, at most 20, chosen by their exact name."
            }
            "invalid_recorded_on" => "The recording date is a date such as 2026-05-14.",
            "invalid_chapters" => {
                "Check the chapters: one per line, a time then a title, in order, inside the video."
            }
            "invalid_state" => "A talk goes public only with a playable video.",
            "invalid_publish_at" => "A scheduled time must lie in the future.",
            "invalid_name" => "Check the name: it is required.",
            "invalid_bio" => "The bio is too long (at most 10,000 characters).",
            "invalid_links" => "Links must be http(s) addresses, at most 10.",
            "invalid_image" => {
                "That file is not an image we can use (JPEG, PNG or WebP, at most 20 MB)."
            }
            "image_too_large" => {
                "That image is too large: at most 20 MB and 8000 pixels on each side."
            }
            "invalid_frame" => "Choose a moment inside the video.",
            "no_video" => "This talk has no transcoded video to take a frame from yet.",
            "frame_failed" => "The frame could not be taken from the video; try another moment.",
            _ => return None,
        };
        Some(message.to_owned())
    }
}

/// The `?error=` code of a refused field (fixed words only; unknown fields are `invalid`).
fn field_code(field: &str) -> &'static str {
    match field {
        "title" => "invalid_title",
        "slug" => "invalid_slug",
        "description" => "invalid_description",
        "language" => "invalid_language",
        "event" => "invalid_event",
        "tags" => "invalid_tags",
        "speakers" | "add_speaker" => "invalid_speakers",
        "recorded_on" => "invalid_recorded_on",
        "chapters" => "invalid_chapters",
        "state" => "invalid_state",
        "publish_at" => "invalid_publish_at",
        "name" | "new_speaker_name" => "invalid_name",
        "bio" | "new_speaker_bio" => "invalid_bio",
        "links" | "new_speaker_links" => "invalid_links",
        "image" | "photo" | "poster" => "invalid_image",
        _ => "invalid",
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // Arguments that do not decode are the caller's fault: on the server, the response
        // says 400, not server_fn's default 500 (the server-fn handler applies this status).
        #[cfg(feature = "ssr")]
        if matches!(
            value,
            ServerFnErrorErr::Args(_)
                | ServerFnErrorErr::MissingArg(_)
                | ServerFnErrorErr::Deserialization(_)
                | ServerFnErrorErr::UnsupportedRequestMethod(_)
        ) && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(http::StatusCode::BAD_REQUEST);
        }
        AppError::ServerFn(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<ferrotape_store::StoreError> for AppError {
    fn from(err: ferrotape_store::StoreError) -> Self {
        use ferrotape_store::StoreError;
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(message) => AppError::Invalid(message),
            StoreError::Invalid(field) => AppError::Field(field),
            StoreError::Stale { .. } => AppError::Stale,
            StoreError::Database(err) => {
                tracing::error!(%err, "database error in a server function");
                AppError::Unavailable
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<ferrotape_accounts::AccountError> for AppError {
    fn from(err: ferrotape_accounts::AccountError) -> Self {
        use ferrotape_accounts::AccountError;
        match err {
            AccountError::Failure(failure) => AppError::Auth(failure),
            AccountError::RateLimited { retry_after } => {
                AppError::RateLimited(retry_after.as_secs().max(1))
            }
            AccountError::Unauthenticated => AppError::Unauthenticated,
            AccountError::Forbidden(message) => AppError::Forbidden(message),
            AccountError::NotFound => AppError::NotFound,
            AccountError::Store(err) => err.into(),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The HTTP status of a server-function response carrying this error.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Invalid(_) | AppError::ServerFn(_) => StatusCode::BAD_REQUEST,
            AppError::Auth(failure) => match failure {
                AuthFailure::InvalidCredentials => StatusCode::UNAUTHORIZED,
                AuthFailure::EmailNotVerified | AuthFailure::AccountDisabled => {
                    StatusCode::FORBIDDEN
                }
                AuthFailure::EmailTaken => StatusCode::CONFLICT,
                AuthFailure::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_REQUEST,
            },
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Field(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Stale => StatusCode::PRECONDITION_FAILED,
            AppError::Moved(_) => StatusCode::MOVED_PERMANENTLY,
        }
    }
}
