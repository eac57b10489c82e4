//! The first thing every request passes: who sent it (client IP, through trusted proxies
//! only), which tenant it belongs to (host-name mapping, or `X-Tenant-ID` from a trusted
//! proxy), the origin links in mail should use, and whether cookies must be `Secure`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrotape_accounts::{ClientContext, RequestContext};
use ferrotape_model::TenantId;
use ferrotape_store::tenants;

use crate::authority::{Authority, Malformed};
use crate::cli::CookieSecure;
use crate::error::ApiError;
use crate::settings::HttpSettings;
use crate::state::AppState;

pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let settings = &state.http;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip());
    let trusted = settings.trusts(peer);
    let headers = request.headers();

    let client_ip = if trusted {
        forwarded_client(headers, settings).unwrap_or(peer)
    } else {
        peer
    };
    let authority = match request_authority(&request, trusted) {
        Ok(authority) => authority,
        Err(Malformed(reason)) => {
            tracing::debug!(reason, "malformed request authority");
            return bad_request_with("malformed_host", reason);
        }
    };
    let forwarded_https = trusted
        && header_str(headers, "x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));

    let host = authority.as_ref().map(Authority::host_text);
    let (tenant, stored_host) =
        match resolve_tenant(&state, headers, trusted, host.as_deref()).await {
            Ok(found) => found,
            Err(response) => return response,
        };

    let loopback = authority.as_ref().is_some_and(Authority::is_loopback);
    // Links that leave the server (mail, canonical, sitemap, oEmbed) name a stored host name
    // or the configured origin, never header text ("password reset poisoning").
    let origin = match &stored_host {
        Some(stored) => settings.origin_of_stored_host(stored),
        None => settings.default_origin.clone(),
    };
    let secure_cookies = match settings.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => forwarded_https || !loopback,
    };

    let context = RequestContext {
        tenant,
        client: ClientContext {
            ip: client_ip,
            origin,
        },
        authority: authority.map(|a| a.to_string()).unwrap_or_default(),
        secure_cookies,
        https: forwarded_https,
    };
    request.extensions_mut().insert(tenant);
    request.extensions_mut().insert(context);
    next.run(request).await
}

async fn resolve_tenant(
    state: &AppState,
    headers: &HeaderMap,
    trusted: bool,
    host: Option<&str>,
) -> Result<(TenantId, Option<String>), Response> {
    if let Some(value) = header_str(headers, "x-tenant-id") {
        if trusted {
            let tenant = value
                .parse::<uuid::Uuid>()
                .map(TenantId)
                .map_err(|_| bad_request("X-Tenant-ID is not a tenant id"))?;
            return match tenants::find_with_host(&state.db, tenant).await {
                Ok(Some(stored_host)) => Ok((tenant, stored_host)),
                Ok(None) => Err(bad_request("X-Tenant-ID names no tenant")),
                Err(err) => Err(database_down(err)),
            };
        }
        tracing::debug!("ignoring X-Tenant-ID from an untrusted peer");
    }
    let Some(host) = host else {
        return Ok((TenantId::DEFAULT, None));
    };
    match state.host_tenants.tenant_for(&state.db, host).await {
        // The stored name equals the parsed host (both lower case, no port).
        Ok(Some(tenant)) => Ok((tenant, Some(host.to_owned()))),
        Ok(None) => Ok((TenantId::DEFAULT, None)),
        Err(err) => Err(database_down(err)),
    }
}

/// Without the database no request can be placed in a tenant: a clear 503, details logged.
fn database_down(err: ferrotape_store::StoreError) -> Response {
    tracing::error!(%err, "cannot resolve the tenant of a request");
    ApiError::Unavailable("the database").into_response()
}

fn bad_request(message: &'static str) -> Response {
    bad_request_with("bad_tenant", message)
}

fn bad_request_with(code: &'static str, message: &'static str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": message, "code": code })),
    )
        .into_response()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The client behind trusted proxies: the right-most X-Forwarded-For entry that is not itself
/// a trusted proxy (entries left of it can be forged by the client).
fn forwarded_client(headers: &HeaderMap, settings: &HttpSettings) -> Option<IpAddr> {
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|ip| !settings.trusts(**ip))
        .or(chain.first())
        .copied()
}

/// The authority the request names, strictly parsed: a trusted proxy's `X-Forwarded-Host`,
/// else the `Host` header, else the request target's (HTTP/2 `:authority`). Two `Host` headers,
/// or an absolute-form target naming another authority than `Host`, are refused: proxies and
/// the server could otherwise disagree on which site a request is for. `None`: the request
/// names no authority at all (HTTP/1.0), which gets the default tenant and origin.
fn request_authority(request: &Request, trusted: bool) -> Result<Option<Authority>, Malformed> {
    let headers = request.headers();
    let single = |name: &str| -> Result<Option<Authority>, Malformed> {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Malformed("the request names its host twice"));
        }
        let text = value
            .to_str()
            .map_err(|_| Malformed("the host is not ASCII"))?;
        Authority::parse(text).map(Some)
    };
    if trusted && let Some(forwarded) = single("x-forwarded-host")? {
        return Ok(Some(forwarded));
    }
    let host = single(header::HOST.as_str())?;
    let target = request
        .uri()
        .authority()
        .map(|a| Authority::parse(a.as_str()))
        .transpose()?;
    match (host, target) {
        (Some(host), Some(target)) if host != target => Err(Malformed(
            "the request target names another host than the Host header",
        )),
        (host, target) => Ok(host.or(target)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_last_untrusted_forwarded_address() {
        let settings = HttpSettings {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            default_origin: "http://127.0.0.1:3000".into(),
            cookie_secure: CookieSecure::Auto,
            media_accel_redirect: None,
        };
        let mut headers = HeaderMap::new();
        // The client forged the first entry; the proxy appended the real one.
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9, 10.0.0.2".parse().unwrap(),
        );
        assert_eq!(
            forwarded_client(&headers, &settings),
            Some("203.0.113.9".parse().unwrap())
        );
    }
}
