//! Which URLs an editor may import from, and which machines an import may connect to.
//!
//! Only `http` and `https` addresses with a host are accepted. A destination is refused when
//! any address its host resolves to is not a public unicast address (loopback, private,
//! link-local, unique-local, CGNAT, multicast, unspecified, documentation and other reserved
//! ranges, and IPv6 forms that embed such an IPv4 address), unless
//! `FERROTAPE_IMPORT_ALLOW_HOSTS` names it: a host name or IP literal with an optional port,
//! or a CIDR range. The server checks the pasted URL at once; the worker checks every
//! connection the download makes (its proxy, `worker::import::proxy`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 4096;

/// The largest import unless configured otherwise (20 GiB, as for uploads).
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024 * 1024;

/// The longest import unless configured otherwise (6 hours).
pub const DEFAULT_MAX_DURATION_SECS: u64 = 6 * 3600;

/// How long resolving a host name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// One entry of `FERROTAPE_IMPORT_ALLOW_HOSTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// Every address in the range, any port.
    Range(IpNet),
    /// This host name or IP literal (as the URL writes it), on `port` or any port.
    Host { host: String, port: Option<u16> },
}

impl AllowEntry {
    /// `10.0.0.0/8`, `127.0.0.1:8080`, `media.internal`, `[::1]:9000`.
    pub fn parse(text: &str) -> Result<AllowEntry, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty allow-list entry".to_owned());
        }
        if text.contains('/') {
            return text
                .parse::<IpNet>()
                .map(AllowEntry::Range)
                .map_err(|_| format!("`{text}` is not a CIDR range"));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(AllowEntry::Host {
                host: ip.to_string(),
                port: None,
            });
        }
        let url = Url::parse(&format!("http://{text}/"))
            .map_err(|_| format!("`{text}` is not a host, host:port or CIDR range"))?;
        let host = url
            .host()
            .ok_or_else(|| format!("`{text}` names no host"))?;
        if url.path() != "/" || !url.username().is_empty() || url.query().is_some() {
            return Err(format!("`{text}` is not a host, host:port or CIDR range"));
        }
        let explicit_port = text.rsplit_once(':').is_some_and(|(before, port)| {
            !before.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty()
        });
        Ok(AllowEntry::Host {
            host: host_text(&host),
            // `Url` hides the scheme's default port; an explicit `:80` still means port 80.
            port: if explicit_port {
                url.port().or(Some(80))
            } else {
                None
            },
        })
    }

    fn matches(&self, host: &str, ip: IpAddr, port: u16) -> bool {
        match self {
            AllowEntry::Range(net) => net.contains(&ip),
            AllowEntry::Host {
                host: allowed,
                port: allowed_port,
            } => {
                let same_host = allowed.eq_ignore_ascii_case(host) || *allowed == ip.to_string();
                same_host && allowed_port.is_none_or(|p| p == port)
            }
        }
    }
}

/// A host as `Url` prints it without brackets (`::1`, `127.0.0.1`, `example.org`).
fn host_text(host: &url::Host<&str>) -> String {
    match host {
        url::Host::Domain(name) => name.to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    }
}

/// Why an import URL or destination was refused: what the editor reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefused {
    #[error(
        "paste the address of a video page, a video file or an HLS playlist (http:// or https://)"
    )]
    Malformed,
    #[error("only http:// and https:// addresses can be imported, not {0}:")]
    Scheme(String),
    #[error("the address must not carry a user name or password")]
    Credentials,
    #[error("{host} cannot be found (DNS): check the address")]
    Unresolvable { host: String },
    #[error(
        "{}: imports may not reach private networks (an administrator can allow it with \
         FERROTAPE_IMPORT_ALLOW_HOSTS)",
        describe(host, address, range)
    )]
    Private {
        host: String,
        address: IpAddr,
        range: &'static str,
    },
}

/// "10.0.0.1 is a private address", "intranet.example resolves to 10.0.0.1, a private address".
fn describe(host: &str, address: &IpAddr, range: &str) -> String {
    if host == address.to_string() {
        format!("{host} is a {range} address")
    } else {
        format!("{host} resolves to {address}, a {range} address")
    }
}

impl ImportRefused {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            ImportRefused::Malformed | ImportRefused::Credentials => "bad_url",
            ImportRefused::Scheme(_) => "unsupported_scheme",
            ImportRefused::Unresolvable { .. } => "unresolvable_host",
            ImportRefused::Private { .. } => "refused_destination",
        }
    }
}

/// Parses a pasted address: `http` or `https`, a host, no credentials.
pub fn parse_url(raw: &str) -> Result<Url, ImportRefused> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL_LEN {
        return Err(ImportRefused::Malformed);
    }
    let url = Url::parse(raw).map_err(|_| ImportRefused::Malformed)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ImportRefused::Scheme(url.scheme().to_owned()));
    }
    if url.host().is_none() {
        return Err(ImportRefused::Malformed);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ImportRefused::Credentials);
    }
    Ok(url)
}

/// The special-purpose range `ip` lies in, if it is not a public unicast address.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "carrier-grade NAT (CGNAT)",
        (169, 254, _) => "link-local",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        (192, 0, 0) | (192, 0, 2) | (198, 18..=19, _) | (198, 51, 100) | (203, 0, 113) => {
            "reserved"
        }
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let segments = ip.segments();
    let embedded_v4 = || {
        Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        )
    };
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    Some(match segments[0] {
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
        0x0064 if segments[1] == 0xff9b => return special_v4(embedded_v4()),
        // 6to4 (2002::/16) embeds an IPv4 address in its next 32 bits.
        0x2002 => {
            let v4 = Ipv4Addr::new(
                (segments[1] >> 8) as u8,
                segments[1] as u8,
                (segments[2] >> 8) as u8,
                segments[2] as u8,
            );
            return special_v4(v4);
        }
        // Teredo, ORCHID, documentation.
        0x2001
            if segments[1] == 0
                || segments[1] == 0x0db8
                || (0x10..=0x2f).contains(&segments[1]) =>
        {
            "reserved"
        }
        // The rest of ::/8 (IPv4-compatible, discard prefix, …) is nothing public.
        0x0000..=0x00ff => "reserved",
        _ => return None,
    })
}

/// What an import may do: where it may connect and how big and long the video may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPolicy {
    pub allow: Vec<AllowEntry>,
    pub max_bytes: u64,
    pub max_duration_secs: u64,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        ImportPolicy {
            allow: Vec::new(),
            max_bytes: DEFAULT_MAX_BYTES,
            max_duration_secs: DEFAULT_MAX_DURATION_SECS,
        }
    }
}

impl ImportPolicy {
    /// Whether an import may connect to `ip`:`port`, reached as `host`.
    pub fn allows(&self, host: &str, ip: IpAddr, port: u16) -> Result<(), &'static str> {
        let ip = ip.to_canonical();
        match special_range(ip) {
            None => Ok(()),
            Some(_) if self.allow.iter().any(|e| e.matches(host, ip, port)) => Ok(()),
            Some(range) => Err(range),
        }
    }

    /// Resolves `host` and returns its addresses when every one of them may be reached on
    /// `port`; refused when one may not (a name answering both a public and a private address
    /// is refused rather than raced).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ImportRefused> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else {
            let lookup = tokio::net::lookup_host((bare, port));
            match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(Ok(found)) => found.collect(),
                _ => Vec::new(),
            }
        };
        if addresses.is_empty() {
            return Err(ImportRefused::Unresolvable {
                host: bare.to_owned(),
            });
        }
        for address in &addresses {
            if let Err(range) = self.allows(bare, address.ip(), port) {
                return Err(ImportRefused::Private {
                    host: bare.to_owned(),
                    address: address.ip().to_canonical(),
                    range,
                });
            }
        }
        Ok(addresses)
    }

    /// Checks a pasted address: its form, and that its host may be reached.
    pub async fn check_url(&self, raw: &str) -> Result<Url, ImportRefused> {
        let url = parse_url(raw)?;
        let host = url
            .host()
            .map(|h| host_text(&h))
            .ok_or(ImportRefused::Malformed)?;
        let port = url.port_or_known_default().unwrap_or(80);
        self.resolve(&host, port).await?;
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_addresses_are_reachable() {
        let policy = ImportPolicy::default();
        for (address, range) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "carrier-grade NAT (CGNAT)"),
            ("169.254.169.254", "link-local"),
            ("224.0.0.1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:0101::1", "private"),
            ("2001:db8::1", "reserved"),
        ] {
            assert_eq!(policy.allows("h", ip(address), 80), Err(range), "{address}");
        }
        for address in [
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "2606:2800:21f::1",
        ] {
            assert_eq!(policy.allows("h", ip(address), 80), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_allow_list_names_hosts_ports_and_ranges() {
        let policy = ImportPolicy {
            allow: [
                "127.0.0.1:8080",
                "media.internal",
                "10.0.0.0/8",
                "[::1]:9000",
            ]
            .iter()
            .map(|e| AllowEntry::parse(e).unwrap())
            .collect(),
            ..ImportPolicy::default()
        };
        assert_eq!(policy.allows("127.0.0.1", ip("127.0.0.1"), 8080), Ok(()));
        assert_eq!(
            policy.allows("127.0.0.1", ip("127.0.0.1"), 8081),
            Err("loopback")
        );
        assert_eq!(
            policy.allows("127.0.0.2", ip("127.0.0.2"), 8080),
            Err("loopback")
        );
        assert_eq!(
            policy.allows("MEDIA.internal", ip("192.168.1.5"), 443),
            Ok(())
        );
        assert_eq!(policy.allows("x", ip("10.9.9.9"), 1), Ok(()));
        assert_eq!(policy.allows("::1", ip("::1"), 9000), Ok(()));
        assert_eq!(policy.allows("::1", ip("::1"), 9001), Err("loopback"));
        assert!(AllowEntry::parse("not a host").is_err());
        assert!(AllowEntry::parse("10.0.0.0/33").is_err());
        assert!(AllowEntry::parse("").is_err());
        assert_eq!(
            AllowEntry::parse("example.org:80").unwrap(),
            AllowEntry::Host {
                host: "example.org".into(),
                port: Some(80)
            }
        );
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_parse() {
        assert!(parse_url("https://example.org/talk").is_ok());
        assert!(parse_url("  http://example.org/v.mp4 ").is_ok());
        for (raw, code) in [
            ("file:///etc/passwd", "unsupported_scheme"),
            ("ftp://example.org/v.mp4", "unsupported_scheme"),
            ("data:text/plain,hi", "unsupported_scheme"),
            ("javascript:alert(1)", "unsupported_scheme"),
            ("example.org/v.mp4", "bad_url"),
            ("", "bad_url"),
            ("http://user:pw@example.org/", "bad_url"),
            ("http://", "bad_url"),
        ] {
            assert_eq!(parse_url(raw).unwrap_err().code(), code, "{raw}");
        }
        assert_eq!(
            parse_url(&format!("http://example.org/{}", "a".repeat(MAX_URL_LEN))).unwrap_err(),
            ImportRefused::Malformed
        );
    }

    #[tokio::test]
    async fn a_url_naming_a_private_address_is_refused_before_anything_runs() {
        let policy = ImportPolicy::default();
        let refused = policy.check_url("http://127.0.0.1:9/x").await.unwrap_err();
        assert_eq!(refused.code(), "refused_destination");
        assert!(refused.to_string().contains("loopback"), "{refused}");
        let refused = policy
            .check_url("http://[::ffff:169.254.169.254]/")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "refused_destination");
        let refused = policy.check_url("http://localhost:9/").await.unwrap_err();
        assert_eq!(refused.code(), "refused_destination");
    }
}
