//! The two session cookies: a short-lived access token and the rotating refresh token. Both are
//! `HttpOnly` (scripts never see them), `SameSite=Lax` (not sent on cross-site POSTs) and
//! `Secure` except on plain-HTTP loopback, where browsers would drop them.

use std::time::Duration;

use http::HeaderMap;
use http::header::COOKIE;

use crate::IssuedSession;

pub const ACCESS_COOKIE: &str = "ft_access";
pub const REFRESH_COOKIE: &str = "ft_refresh";

fn cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` values for a new session.
pub fn session_cookies(session: &IssuedSession, secure: bool) -> [String; 2] {
    [
        cookie(
            ACCESS_COOKIE,
            &session.access_token,
            session.access_ttl,
            secure,
        ),
        cookie(
            REFRESH_COOKIE,
            &session.refresh_token,
            session.refresh_ttl,
            secure,
        ),
    ]
}

/// `Set-Cookie` values that remove both cookies.
pub fn cleared_cookies(secure: bool) -> [String; 2] {
    [
        cookie(ACCESS_COOKIE, "", Duration::ZERO, secure),
        cookie(REFRESH_COOKIE, "", Duration::ZERO, secure),
    ]
}

/// The value of a cookie in the request's `Cookie` headers.
pub fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether the request carries a session cookie at all (then CSRF checks apply).
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    read_cookie(headers, ACCESS_COOKIE).is_some() || read_cookie(headers, REFRESH_COOKIE).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; ft_access=abc.def"),
        );
        headers.append(COOKIE, HeaderValue::from_static("ft_refresh=xyz"));
        assert_eq!(read_cookie(&headers, ACCESS_COOKIE), Some("abc.def"));
        assert_eq!(read_cookie(&headers, REFRESH_COOKIE), Some("xyz"));
        assert_eq!(read_cookie(&headers, "ft_acc"), None);
        assert!(has_session_cookie(&headers));
    }

    #[test]
    fn secure_is_set_unless_on_loopback_http() {
        let [access, _] = cleared_cookies(true);
        assert_eq!(
            access,
            "ft_access=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
        let [_, refresh] = cleared_cookies(false);
        assert_eq!(
            refresh,
            "ft_refresh=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
