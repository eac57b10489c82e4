//! Live streams: an editor's channel to go live on, its state machine and what the studio
//! shows of it. The ingest (nginx-rtmp, or MediaMTX in front) asks the publish webhook about
//! every push; the key names the stream.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::talk::FieldError;

/// Where a stream stands.
///
/// `idle` (never live) → `live` (a publisher pushes) → `reconnecting` (the push stopped; for
/// [`RECONNECT_WINDOW_SECS`] a new push continues the same session) → `ended` (the window
/// passed) → `live` again starts a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    Idle,
    Live,
    Reconnecting,
    Ended,
}

impl LiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Idle => "idle",
            LiveState::Live => "live",
            LiveState::Reconnecting => "reconnecting",
            LiveState::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Option<LiveState> {
        [
            LiveState::Idle,
            LiveState::Live,
            LiveState::Reconnecting,
            LiveState::Ended,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// What a person reads for it.
    pub fn label(self) -> &'static str {
        match self {
            LiveState::Idle => "Not live yet",
            LiveState::Live => "Live",
            LiveState::Reconnecting => "Reconnecting",
            LiveState::Ended => "Ended",
        }
    }
}

/// How long a stream whose push stopped waits, by default, for its publisher to come back
/// into the same session (and playlist) before it ends (`FERROTAPE_LIVE_RECONNECT_SECS`).
pub const RECONNECT_WINDOW_SECS: i64 = 60;

/// The longest title a stream takes.
pub const MAX_TITLE_CHARS: usize = 200;

/// A stream as its owner sees it; the key is asked for separately ([`StreamKey`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveStream {
    pub id: Uuid,
    pub title: String,
    pub state: LiveState,
    /// Whether the recording becomes a draft talk when the stream ends.
    pub record: bool,
    /// Which key is valid: regenerating counts up.
    pub key_generation: i32,
    /// The current session's start, while live or reconnecting.
    #[serde(with = "time::serde::rfc3339::option")]
    pub live_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A stream's key and where to push with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamKey {
    pub key: String,
    pub key_generation: i32,
}

/// A new stream, or a change of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveStreamFields {
    pub title: String,
    /// Defaults to true: recordings are kept unless turned off.
    #[serde(default = "record_by_default")]
    pub record: bool,
}

fn record_by_default() -> bool {
    true
}

impl LiveStreamFields {
    /// Trims the title and checks it.
    pub fn normalized(self) -> Result<LiveStreamFields, FieldError> {
        let title = self.title.trim().to_owned();
        if title.is_empty() {
            return Err(FieldError::new("title", "give the stream a title"));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(FieldError::new(
                "title",
                format!("a title has at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "title",
                "a title cannot hold control characters",
            ));
        }
        Ok(LiveStreamFields { title, ..self })
    }
}

/// The stream key format: `live_` and 43 URL-safe base64 characters (256 bits).
pub const STREAM_KEY_PREFIX: &str = "live_";

/// Whether `text` could be a stream key; anything else is refused before a query.
pub fn looks_like_stream_key(text: &str) -> bool {
    text.strip_prefix(STREAM_KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// OBS settings the studio recommends: a keyframe every second lines the source up with the
/// live renditions' 1 s segments (the passthrough mode cuts segments at the source's
/// keyframes; the ladder places its own).
pub const OBS_KEYFRAME_INTERVAL_SECS: u32 = 1;
/// The video bitrate the studio recommends for 1080p30.
pub const OBS_VIDEO_BITRATE_KBPS: u32 = 4_500;
/// And for audio.
pub const OBS_AUDIO_BITRATE_KBPS: u32 = 160;

/// What anyone may see of a stream: its page and the catalog's live section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicLiveStream {
    pub id: Uuid,
    pub title: String,
    pub state: LiveState,
    /// The current session's start, while live or reconnecting.
    #[serde(with = "time::serde::rfc3339::option")]
    pub live_since: Option<OffsetDateTime>,
    /// The viewer count last stored (`live_streams.viewers`, every 10 s).
    pub viewers: u32,
    /// The streamer's display name.
    pub owner: String,
}

impl PublicLiveStream {
    /// Whether there is something to play (a push now, or one expected back in the window).
    pub fn on_air(&self) -> bool {
        matches!(self.state, LiveState::Live | LiveState::Reconnecting)
    }
}

/// Where publishers push: the ingest's RTMP port and application, as this server runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAddress {
    pub port: u16,
    pub app: String,
}

impl IngestAddress {
    /// The server URL OBS asks for, on the host name the browser used (`authority` is
    /// `host[:port]`, an IPv6 address in brackets).
    pub fn server_url(&self, authority: &str) -> String {
        let host = match authority.rfind(':') {
            Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
            _ => authority,
        };
        format!("rtmp://{host}:{}/{}", self.port, self.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_url_uses_the_browsers_host_and_the_ingest_port() {
        let ingest = IngestAddress {
            port: 1935,
            app: "live".into(),
        };
        assert_eq!(
            ingest.server_url("talks.example.org:3000"),
            "rtmp://talks.example.org:1935/live"
        );
        assert_eq!(
            ingest.server_url("talks.example.org"),
            "rtmp://talks.example.org:1935/live"
        );
        assert_eq!(ingest.server_url("[::1]:3000"), "rtmp://[::1]:1935/live");
        assert_eq!(ingest.server_url("[::1]"), "rtmp://[::1]:1935/live");
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            LiveState::Idle,
            LiveState::Live,
            LiveState::Reconnecting,
            LiveState::Ended,
        ] {
            assert_eq!(LiveState::parse(state.as_str()), Some(state));
        }
        assert_eq!(LiveState::parse("LIVE"), None);
    }

    #[test]
    fn titles_are_trimmed_and_checked() {
        let fields = |title: &str| LiveStreamFields {
            title: title.into(),
            record: true,
        };
        assert_eq!(fields("  Keynote ").normalized().unwrap().title, "Keynote");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(201)] {
            assert_eq!(
                fields(bad).normalized().unwrap_err().field,
                "title",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_well_formed_keys_reach_a_query() {
        let key = format!("{STREAM_KEY_PREFIX}{}", "a".repeat(43));
        assert!(looks_like_stream_key(&key));
        for bad in [
            "",
            "live_",
            &key[..key.len() - 1],
            &format!("{key}a"),
            &format!("{STREAM_KEY_PREFIX}{}", "a/".repeat(21) + "a"),
            &key.replace("live_", "ft_xx"),
        ] {
            assert!(!looks_like_stream_key(bad), "{bad:?}");
        }
    }
}
