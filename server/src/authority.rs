//! Strict parsing of the authority a request names (`Host`, a trusted proxy's
//! `X-Forwarded-Host`, or an absolute-form request target): an RFC 3986 host — a DNS name of
//! letters, digits and hyphens, an IPv4 address or a bracketed IPv6 address — and an optional
//! all-digit port. Anything else (userinfo, `\`, `/`, `#`, `?`, `%`, spaces, empty labels, a
//! trailing dot, a zone id) is refused, so no header text can smuggle another site into what
//! the server derives from it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A host name as DNS sees it (lower case) or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// `host[:port]`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub host: Host,
    pub port: Option<u16>,
}

/// Why an authority was refused (for the 400 answer and the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

impl Authority {
    pub fn parse(text: &str) -> Result<Authority, Malformed> {
        if text.is_empty() {
            return Err(Malformed("the host is empty"));
        }
        if text.len() > MAX_NAME + 8 || !text.is_ascii() {
            return Err(Malformed("the host is too long or not ASCII"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or(Malformed("an IPv6 host lacks its closing bracket"))?;
            let ip = inside
                .parse::<Ipv6Addr>()
                .map_err(|_| Malformed("the bracketed host is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                _ => Some(parse_port(
                    after
                        .strip_prefix(':')
                        .ok_or(Malformed("text follows the IPv6 host"))?,
                )?),
            };
            (Host::V6(ip), port)
        } else {
            let (name, port) = match text.split_once(':') {
                Some((name, port)) => (name, Some(parse_port(port)?)),
                None => (text, None),
            };
            (parse_name(name)?, port)
        };
        Ok(Authority { host, port })
    }

    /// Whether the host is this machine (`localhost`, `*.localhost`, 127/8, `::1`).
    pub fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Name(name) => name == "localhost" || name.ends_with(".localhost"),
            Host::V4(ip) => ip.is_loopback(),
            Host::V6(ip) => ip.is_loopback(),
        }
    }

    /// The host alone, as stored in `tenant_hosts` (names) or written in URLs (`[::1]`).
    pub fn host_text(&self) -> String {
        match &self.host {
            Host::Name(name) => name.clone(),
            Host::V4(ip) => ip.to_string(),
            Host::V6(ip) => format!("[{ip}]"),
        }
    }
}

impl fmt::Display for Authority {
    /// The canonical `host[:port]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host_text())?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

fn parse_port(text: &str) -> Result<u16, Malformed> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed("the port is not a number"));
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(Malformed("the port is out of range")),
        Ok(port) => Ok(port),
    }
}

fn parse_name(text: &str) -> Result<Host, Malformed> {
    if text.is_empty() || text.len() > MAX_NAME {
        return Err(Malformed("the host name is empty or too long"));
    }
    let name = text.to_ascii_lowercase();
    for label in name.split('.') {
        if label.is_empty() {
            return Err(Malformed("the host name has an empty label"));
        }
        if label.len() > MAX_LABEL
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Malformed(
                "the host name has a character a host cannot have",
            ));
        }
    }
    // A name whose last label is numeric is an IPv4 address or nothing (DNS has no numeric
    // top-level domains); Rust's parser refuses octal, hex and shortened forms.
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| Malformed("the host is not a valid IPv4 address"));
    }
    Ok(Host::Name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_authorities_parse_to_their_canonical_form() {
        for (text, canonical) in [
            ("talks.example.org", "talks.example.org"),
            ("TALKS.Example.org:8443", "talks.example.org:8443"),
            ("localhost:3000", "localhost:3000"),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]:3000", "[::1]:3000"),
            ("[2001:DB8::1]", "[2001:db8::1]"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(Authority::parse(text).unwrap().to_string(), canonical);
        }
    }

    #[test]
    fn hostile_authorities_are_refused() {
        for text in [
            "",
            "localhost:@attacker.example",
            "localhost:3000@attacker.example",
            "user@talks.example.org",
            "attacker.example\\@talks.example.org",
            "talks.example.org/evil",
            "talks.example.org#x",
            "talks.example.org?x",
            "talks%2eexample.org",
            "talks.example.org ",
            "talks example.org",
            "talks..example.org",
            ".talks.example.org",
            "talks.example.org.",
            "talks.example.org:",
            "talks.example.org:0",
            "talks.example.org:65536",
            "talks.example.org:80:80",
            "talks.example.org:+80",
            "talks.example.org:8a",
            "::1",
            "[::1",
            "[::1]x",
            "[fe80::1%25eth0]",
            "[127.0.0.1]",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "127.1",
            "999.1.1.1",
            "-talks.example.org",
            "talks_.example.org",
            "tälks.example.org",
            "a,b",
        ] {
            assert!(Authority::parse(text).is_err(), "{text:?} was accepted");
        }
        let long = format!("{}.example", "a".repeat(250));
        assert!(Authority::parse(&long).is_err());
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for text in ["localhost", "app.localhost:3000", "127.0.0.2", "[::1]"] {
            assert!(Authority::parse(text).unwrap().is_loopback(), "{text}");
        }
        for text in ["talks.example.org", "10.0.0.1", "[2001:db8::1]"] {
            assert!(!Authority::parse(text).unwrap().is_loopback(), "{text}");
        }
    }
}
