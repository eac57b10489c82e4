//! Who may read `/metrics`: with `FERROTAPE_METRICS_TOKEN` set, whoever sends
//! `Authorization: Bearer <token>`; with `FERROTAPE_METRICS_BIND` set, it is served on that
//! address only (the site's listener answers 404); with neither, only direct loopback peers.
//! Apart from `metrics` so `state::AppState` can hold it without importing `metrics` back.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Marks requests that came in on the metrics listener.
#[derive(Clone, Copy)]
pub(crate) struct OnMetricsListener;

/// Who may read /metrics (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// SHA-256 of the bearer token, when one is required.
    token_digest: Option<[u8; 32]>,
    /// Served on its own listener, not the site's.
    separate_listener: bool,
}

impl MetricsAccess {
    pub fn new(token: Option<&str>, separate_listener: bool) -> MetricsAccess {
        MetricsAccess {
            token_digest: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
            separate_listener,
        }
    }

    /// `Err` with the status of the refusal: 404 on the site's listener when metrics have
    /// their own, 401 without the right token, 403 for a remote peer when neither is set.
    pub(crate) fn check(&self, request: &Request) -> Result<(), StatusCode> {
        let on_metrics_listener = request.extensions().get::<OnMetricsListener>().is_some();
        if self.separate_listener && !on_metrics_listener {
            return Err(StatusCode::NOT_FOUND);
        }
        if let Some(expected) = self.token_digest {
            // Digests of equal length: comparing them reveals nothing about the token.
            let presented = bearer(request.headers()).map(|t| Sha256::digest(t.as_bytes()));
            return match presented {
                Some(digest) if digest.as_slice() == expected => Ok(()),
                _ => Err(StatusCode::UNAUTHORIZED),
            };
        }
        if on_metrics_listener || is_direct_loopback(request) {
            Ok(())
        } else {
            Err(StatusCode::FORBIDDEN)
        }
    }
}

pub(crate) fn refusal(status: StatusCode) -> Response {
    match status {
        StatusCode::UNAUTHORIZED => (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required",
        )
            .into_response(),
        StatusCode::FORBIDDEN => (
            status,
            "set FERROTAPE_METRICS_TOKEN or FERROTAPE_METRICS_BIND to read metrics remotely",
        )
            .into_response(),
        _ => status.into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A loopback peer that is not relaying someone else's request.
fn is_direct_loopback(request: &Request) -> bool {
    is_direct_loopback_peer(request.extensions(), request.headers())
}

/// [`is_direct_loopback`] from a request's parts (for extractors).
pub(crate) fn is_direct_loopback_peer(
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
) -> bool {
    let loopback = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|info| info.0.ip().is_loopback());
    let relayed = [
        "x-forwarded-for",
        "forwarded",
        "x-real-ip",
        "x-forwarded-host",
    ]
    .iter()
    .any(|name| headers.contains_key(*name));
    loopback && !relayed
}
