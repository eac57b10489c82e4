//! Turns the account and HTTP settings of the command line into what the services take.

use std::net::SocketAddr;
use std::time::Duration;

use ferrotape_accounts::AccountsConfig;

use crate::authority::Authority;
use crate::cli::AccountArgs;
use crate::settings::HttpSettings;

pub fn accounts_config(args: &AccountArgs) -> AccountsConfig {
    AccountsConfig {
        access_ttl: Duration::from_secs(args.access_token_minutes * 60),
        refresh_ttl: Duration::from_secs(args.session_days * 24 * 3600),
        smtp_url: args.smtp_url.clone(),
        mail_from: args.mail_from.clone(),
        jwt_secret: args.jwt_secret.clone(),
        ..AccountsConfig::default()
    }
}

pub fn http_settings(args: &AccountArgs, bind: SocketAddr) -> Result<HttpSettings, String> {
    let default_origin = match args.public_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => {
            let url = url.trim_end_matches('/');
            let authority = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            let valid = authority.is_some_and(|a| Authority::parse(a).is_ok());
            if !valid {
                return Err(format!(
                    "FERROTAPE_PUBLIC_URL `{url}` is not an origin like https://talks.example.org"
                ));
            }
            url.to_owned()
        }
        _ => {
            // 0.0.0.0 is where we listen, not an address anyone can open.
            let host = if bind.ip().is_unspecified() {
                "127.0.0.1".to_owned()
            } else {
                match bind {
                    SocketAddr::V4(v4) => v4.ip().to_string(),
                    SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
                }
            };
            format!("http://{host}:{}", bind.port())
        }
    };
    Ok(HttpSettings {
        trusted_proxies: args.trusted_proxies.clone(),
        default_origin,
        cookie_secure: args.cookie_secure,
        media_accel_redirect: args.media_accel_redirect.clone(),
    })
}
