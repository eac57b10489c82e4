//! Conditional requests of the REST API (RFC 9110 §13): every resource has a strong ETag (its
//! revision, `"7"`); `If-None-Match` on a GET answers 304 when the client's copy is current;
//! `If-Match` on a change makes it happen only if the resource is still at that revision
//! (else 412 and nothing is written). `If-Match` may be left out (the change then applies to
//! whatever is current, as clients of hosted video APIs expect); `*` matches any revision.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The strong ETag of a revision.
pub fn etag(revision: impl std::fmt::Display) -> String {
    format!("\"{revision}\"")
}

/// The entity tags of a header, `None` for `*`.
fn tags(value: &str) -> Option<Vec<&str>> {
    let value = value.trim();
    if value == "*" {
        return None;
    }
    Some(
        value
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// What `If-Match` asks of a change: `None` (no header, or `*`: whatever revision is current)
/// or the revision it must still have. Weak tags and tags that are not a revision of ours can
/// never match strongly: they yield a revision no resource has, so the store answers 412 (or
/// 404 when the resource does not exist). Several revisions at once are refused (400).
pub fn expected_revision(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad_if_match());
    }
    let value = value.to_str().map_err(|_| bad_if_match())?;
    let Some(tags) = tags(value) else {
        return Ok(None);
    };
    match tags.as_slice() {
        [] => Err(bad_if_match()),
        [tag] => Ok(Some(
            tag.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|r| *r > 0)
                .unwrap_or(NO_REVISION),
        )),
        _ => Err(bad_if_match()),
    }
}

/// A revision no resource has (revisions start at 1).
const NO_REVISION: i64 = -1;

fn bad_if_match() -> ApiError {
    ApiError::Coded(
        StatusCode::BAD_REQUEST,
        "invalid_if_match",
        "If-Match takes one ETag as a GET returned it (\"7\"), or *".to_owned(),
    )
}

/// Whether the client's `If-None-Match` names `current` (weak comparison, as RFC 9110 asks
/// for GET).
pub fn not_modified(headers: &HeaderMap, current: &str) -> bool {
    let current = current.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| match tags(value) {
            None => true,
            Some(tags) => tags.iter().any(|t| t.trim_start_matches("W/") == current),
        })
}

/// A JSON resource with its ETag, or 304 when the request's `If-None-Match` names it.
pub fn resource<T: serde::Serialize>(
    headers: &HeaderMap,
    tag: String,
    status: StatusCode,
    body: &T,
) -> Response {
    let value = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if status == StatusCode::OK && not_modified(headers, &tag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, value)]).into_response();
    }
    (status, [(header::ETAG, value)], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_static(value));
        map
    }

    #[test]
    fn if_match_names_one_revision_or_any() {
        assert_eq!(expected_revision(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            expected_revision(&headers(header::IF_MATCH, "*")).unwrap(),
            None
        );
        assert_eq!(
            expected_revision(&headers(header::IF_MATCH, "\"7\"")).unwrap(),
            Some(7)
        );
        // Weak or foreign tags never match strongly.
        for never in ["W/\"7\"", "\"abc\"", "7", "\"-3\""] {
            let map = headers(header::IF_MATCH, never);
            assert_eq!(
                expected_revision(&map).unwrap(),
                Some(NO_REVISION),
                "{never}"
            );
        }
        assert!(expected_revision(&headers(header::IF_MATCH, "\"1\", \"2\"")).is_err());
        assert!(expected_revision(&headers(header::IF_MATCH, " ")).is_err());
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(not_modified(
            &headers(header::IF_NONE_MATCH, "\"3\""),
            "\"3\""
        ));
        assert!(not_modified(
            &headers(header::IF_NONE_MATCH, "W/\"3\""),
            "\"3\""
        ));
        assert!(not_modified(
            &headers(header::IF_NONE_MATCH, "\"1\", \"3\""),
            "\"3\""
        ));
        assert!(not_modified(&headers(header::IF_NONE_MATCH, "*"), "\"3\""));
        assert!(!not_modified(
            &headers(header::IF_NONE_MATCH, "\"4\""),
            "\"3\""
        ));
        assert!(!not_modified(&HeaderMap::new(), "\"3\""));
    }
}
