//! Cursor pagination of the REST API's lists: a page holds at most `limit` items (default
//! [`DEFAULT_PAGE`], at most [`MAX_PAGE`]) and, when more follow, `next`: an opaque cursor to
//! pass back as `cursor`. The cursor is the sort key of the page's last item (URL-safe base64
//! of JSON, naming the list it belongs to), so rows added or removed meanwhile neither repeat
//! nor skip any other row. A cursor that is not one of ours is a 400.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferrotape_model::api::{DEFAULT_PAGE, MAX_PAGE};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;

/// The cursor of a list sorted newest first (talks, videos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TimeCursor {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub id: Uuid,
}

/// The cursor of a list sorted by name (speakers, tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NameCursor {
    pub name: String,
    pub id: Uuid,
}

#[derive(Serialize, serde::Deserialize)]
struct Envelope<T> {
    /// The list the cursor belongs to: another list's cursor is refused.
    list: String,
    after: T,
}

pub fn encode<T: Serialize>(list: &str, after: T) -> String {
    let json = serde_json::to_vec(&Envelope {
        list: list.to_owned(),
        after,
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode<T: DeserializeOwned>(
    list: &str,
    cursor: Option<&str>,
) -> Result<Option<T>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let envelope: Envelope<T> = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .filter(|bytes| bytes.len() <= 4096)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|e: &Envelope<T>| e.list == list)
        .ok_or_else(|| {
            ApiError::Coded(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "`cursor` is not a cursor of this list: pass the `next` of a previous page".into(),
            )
        })?;
    Ok(Some(envelope.after))
}

/// The page size a request asks for.
pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            format!("`limit` is 1 to {MAX_PAGE}"),
        )),
    }
}

/// The query string, or a 400 saying what is wrong with it.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|rejection| {
        ApiError::Coded(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    })
}

/// Splits the `limit + 1` rows a list fetched into the page and the cursor of the next one.
pub fn page<T, C>(
    mut rows: Vec<T>,
    limit: u32,
    list: &str,
    cursor_of: impl Fn(&T) -> C,
) -> (Vec<T>, Option<String>)
where
    C: Serialize,
{
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|last| encode(list, cursor_of(last))))
        .flatten();
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let cursor = NameCursor {
            name: "Ada".into(),
            id: Uuid::nil(),
        };
        let text = encode("speakers", cursor.clone());
        assert_eq!(
            decode::<NameCursor>("speakers", Some(&text)).unwrap(),
            Some(cursor)
        );
        assert!(decode::<NameCursor>("tags", Some(&text)).is_err());
        assert!(decode::<NameCursor>("speakers", Some("not a cursor!")).is_err());
        assert!(decode::<TimeCursor>("speakers", Some(&text)).is_err());
        assert_eq!(decode::<NameCursor>("speakers", None).unwrap(), None);
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let (items, next) = page(vec![1, 2, 3], 2, "n", |n| *n);
        assert_eq!(items, vec![1, 2]);
        assert_eq!(decode::<i32>("n", next.as_deref()).unwrap(), Some(2));
        let (items, next) = page(vec![1, 2], 2, "n", |n| *n);
        assert_eq!((items.len(), next), (2, None));
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(None).unwrap(), 50);
    }
}
