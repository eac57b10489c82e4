//! The coarse dimensions a view is filed under, derived on the server from request headers
//! and then forgotten: the user agent and the referrer themselves are never stored, only the
//! families and the domain below.

/// Browser family, operating system and device class from a `User-Agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub browser: &'static str,
    pub os: &'static str,
    pub device: &'static str,
}

/// Families by the tokens browsers really send, checked most specific first (Edge and Opera
/// also say "Chrome", Chrome also says "Safari").
pub fn client(user_agent: &str) -> Client {
    let ua = user_agent;
    let has = |token: &str| ua.contains(token);
    let lower = ua.to_ascii_lowercase();
    let bot = ["bot", "crawler", "spider", "slurp", "facebookexternalhit"]
        .iter()
        .any(|t| lower.contains(t));
    let browser = if bot {
        "Bot"
    } else if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        "Edge"
    } else if has("OPR/") || has("Opera") {
        "Opera"
    } else if has("SamsungBrowser/") {
        "Samsung Internet"
    } else if has("Firefox/") || has("FxiOS/") {
        "Firefox"
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        "Other"
    };
    let os = if has("iPhone") || has("iPad") || has("iPod") {
        "iOS"
    } else if has("Android") {
        "Android"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("Linux") || has("X11") {
        "Linux"
    } else {
        "Other"
    };
    let device = if bot {
        "bot"
    } else if lower.contains("smart-tv")
        || lower.contains("smarttv")
        || has("AppleTV")
        || has("CrKey")
        || has("Web0S")
        || has("Tizen") && has("TV")
    {
        "tv"
    } else if has("iPad") || has("Tablet") || (os == "Android" && !has("Mobile")) {
        "tablet"
    } else if has("Mobi") || has("iPhone") || has("iPod") {
        "mobile"
    } else {
        "desktop"
    };
    Client {
        browser,
        os,
        device,
    }
}

/// The host of an http(s) referrer, lower-cased and without `www.`; `None` for anything else
/// (no referrer, `android-app://…`, garbage).
pub fn referrer_domain(referrer: &str) -> Option<String> {
    let rest = referrer
        .strip_prefix("https://")
        .or_else(|| referrer.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_owned()
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    valid.then_some(host)
}

/// The region of the first language in `Accept-Language` that names one (`en-GB` → `GB`,
/// `es-419` → `419`); no geo database, so a viewer who asks for plain `de` has no country.
pub fn country(accept_language: &str) -> Option<String> {
    accept_language.split(',').find_map(|part| {
        let tag = part.split(';').next()?.trim();
        tag.split(['-', '_']).skip(1).find_map(|subtag| {
            let region = (subtag.len() == 2 && subtag.chars().all(|c| c.is_ascii_alphabetic()))
                || (subtag.len() == 3 && subtag.chars().all(|c| c.is_ascii_digit()));
            region.then(|| subtag.to_ascii_uppercase())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_user_agents_land_in_their_families() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ("Chrome", "Windows", "desktop"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                ("Edge", "Windows", "desktop"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                ("Safari", "macOS", "desktop"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                ("Safari", "iOS", "mobile"),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                ("Safari", "iOS", "tablet"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                ("Chrome", "Android", "mobile"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ("Chrome", "Android", "tablet"),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                ("Firefox", "Linux", "desktop"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                ("Chrome", "Linux", "desktop"),
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                ("Bot", "Other", "bot"),
            ),
            ("", ("Other", "Other", "desktop")),
        ];
        for (ua, (browser, os, device)) in cases {
            assert_eq!(
                client(ua),
                Client {
                    browser,
                    os,
                    device
                },
                "{ua}"
            );
        }
    }

    #[test]
    fn referrers_keep_only_their_domain() {
        assert_eq!(
            referrer_domain("https://www.News.Example.com/a/b?c=d#e").as_deref(),
            Some("news.example.com")
        );
        assert_eq!(
            referrer_domain("http://user:pw@blog.example.org:8080/x").as_deref(),
            Some("blog.example.org")
        );
        assert_eq!(
            referrer_domain("http://[2001:db8::1]:80/").as_deref(),
            Some("[2001:db8::1]")
        );
        assert_eq!(referrer_domain(""), None);
        assert_eq!(referrer_domain("android-app://com.example"), None);
        assert_eq!(referrer_domain("https://<script>/"), None);
        assert_eq!(referrer_domain("https:///nohost"), None);
    }

    #[test]
    fn the_country_is_the_first_region_asked_for() {
        assert_eq!(country("en-GB,en;q=0.9").as_deref(), Some("GB"));
        assert_eq!(country("de, fr-CA;q=0.8").as_deref(), Some("CA"));
        assert_eq!(country("es-419").as_deref(), Some("419"));
        assert_eq!(country("zh-Hant-TW").as_deref(), Some("TW"));
        assert_eq!(country("de"), None);
        assert_eq!(country("*"), None);
        assert_eq!(country(""), None);
    }
}
