//! The ingest's webhooks: what an RTMP server asks before it lets a push in, and tells when one
//! ends. Two contracts, one decision (`store::live::begin_publish`):
//!
//! - nginx-rtmp: `on_publish`, `on_update` (with `notify_update_timeout`; answering 403 cuts
//!   the push, which is how a regenerated key drops a live publisher within one interval) and
//!   `on_publish_done`, each a form post with `call`, `app`, `name` (the key), `addr` and
//!   `clientid`. Any 2xx allows, 403 refuses.
//! - MediaMTX's HTTP auth hook: a JSON post with `action`, `path` (`live/<key>`), `id` and
//!   `ip`. 200 allows, 401 refuses. The end of a push comes from MediaMTX's `runOnUnpublish`
//!   command, posting `{"path": "$MTX_PATH", "id": "$MTX_SOURCE_ID"}`.
//!
//! Who may call them: a direct loopback peer, the supervised nginx (`live::ingest`, with a
//! secret made for this run), or anyone presenting the configured `FERROTAPE_LIVE_HOOK_SECRET`
//! as `?secret=`. Publishes are rate limited per
//! publishing address, so a flood of guesses costs no queries once over the limit; a key that
//! cannot be one of ours never reaches the database.

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use ferrotape_accounts::stream_keys::presented_hash;
use ferrotape_store::live::{self, PublishDecision};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// How the ingest reaches the webhooks, and the RTMP application that is ours.
pub struct LiveHooks {
    /// SHA-256 of `FERROTAPE_LIVE_HOOK_SECRET`: compared as digests, so the comparison says
    /// nothing about the secret.
    secret_hash: Option<[u8; 32]>,
    /// The secret of the ingest this server runs itself, made for this run.
    ingest_secret: String,
    /// The RTMP application streams publish to (`rtmp://host/<app>/<key>`).
    pub app: String,
    /// Publishes asked for per publishing address (a streamer asks once per push).
    attempts: DefaultKeyedRateLimiter<IpAddr>,
}

/// Publishes an address may ask for per minute before it is refused without a lookup.
const PUBLISHES_PER_MINUTE: u32 = 30;

impl LiveHooks {
    pub fn new(secret: Option<&str>, app: &str) -> LiveHooks {
        LiveHooks {
            secret_hash: secret
                .filter(|s| !s.is_empty())
                .map(|s| Sha256::digest(s.as_bytes()).into()),
            ingest_secret: ferrotape_accounts::tokens::random_token(),
            app: app.to_owned(),
            attempts: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(PUBLISHES_PER_MINUTE).expect("nonzero"),
            )),
        }
    }

    /// The secret the supervised ingest (`live::ingest`) presents.
    pub fn ingest_secret(&self) -> &str {
        &self.ingest_secret
    }

    fn secret_matches(&self, presented: Option<&str>) -> bool {
        let Some(presented) = presented else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let ingest: [u8; 32] = Sha256::digest(self.ingest_secret.as_bytes()).into();
        self.secret_hash == Some(presented) || ingest == presented
    }

    /// Whether `addr` may ask for one more publish; past the limit it is refused at once.
    fn may_try(&self, addr: IpAddr) -> bool {
        self.attempts.check_key(&addr).is_ok()
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nginx_publish))
        .routes(routes!(nginx_update))
        .routes(routes!(nginx_publish_done))
        .routes(routes!(mediamtx_auth))
        .routes(routes!(mediamtx_unpublish))
}

#[derive(Deserialize)]
struct HookSecret {
    secret: Option<String>,
}

/// A caller allowed to use the webhooks: a direct loopback peer, or one with the secret.
pub struct HookCaller;

impl FromRequestParts<AppState> for HookCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = Query::<HookSecret>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(q)| q.secret);
        if crate::metrics_access::is_direct_loopback_peer(&parts.extensions, &parts.headers)
            || state.live_hooks.secret_matches(secret.as_deref())
        {
            return Ok(HookCaller);
        }
        tracing::warn!(path = %parts.uri.path(), "live webhook refused: not loopback and no valid secret");
        Err(ApiError::Coded(
            StatusCode::FORBIDDEN,
            "hook_forbidden",
            "live webhooks are for the ingest server: call from loopback or with ?secret=".into(),
        ))
    }
}

/// nginx-rtmp's notification fields (the ones we read).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NginxCall {
    /// `publish`, `update_publish`, `publish_done`, …
    pub call: Option<String>,
    pub app: String,
    /// The stream name: the key.
    pub name: String,
    /// The publisher's address.
    pub addr: Option<String>,
    /// nginx's id of the connection.
    pub clientid: String,
}

fn publisher_of_nginx(call: &NginxCall) -> String {
    format!("nginx-rtmp:{}", call.clientid.trim())
}

fn address(text: Option<&str>) -> IpAddr {
    text.and_then(|a| a.trim().parse().ok())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Why a publish was refused, for the log line and the answer.
fn refusal(reason: &'static str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "error": reason, "code": "publish_refused" })),
    )
        .into_response()
}

/// The one publish decision both contracts share.
async fn decide(
    state: &AppState,
    app: &str,
    key: &str,
    publisher: &str,
    addr: IpAddr,
) -> Result<Result<PublishDecision, &'static str>, ApiError> {
    let hooks = &state.live_hooks;
    if app != hooks.app {
        tracing::warn!(app, %addr, "publish refused: the RTMP application is not ours");
        return Ok(Err("unknown application"));
    }
    if !hooks.may_try(addr) {
        tracing::warn!(%addr, "publish refused: too many publishes from this address");
        return Ok(Err("too many publishes from this address: wait a minute"));
    }
    let Some(hash) = presented_hash(key) else {
        tracing::warn!(%addr, "publish refused: not a stream key");
        return Ok(Err("unknown stream key"));
    };
    match live::begin_publish(&state.db, &hash, publisher).await? {
        PublishDecision::UnknownKey => {
            tracing::warn!(%addr, "publish refused: unknown or regenerated stream key");
            Ok(Err("unknown stream key"))
        }
        PublishDecision::AlreadyLive => {
            tracing::warn!(%addr, "publish refused: another publisher is live with this key");
            Ok(Err("the stream is live from another publisher"))
        }
        allowed @ PublishDecision::Allowed { .. } => {
            if let PublishDecision::Allowed {
                stream,
                session,
                resumed,
                record,
                ..
            } = &allowed
            {
                tracing::info!(%stream, resumed, publisher, "publish allowed");
                if let Some(transcoders) = &state.live_transcoders {
                    transcoders.start(*stream, *session, key, *record);
                }
            }
            Ok(Ok(allowed))
        }
    }
}

fn nginx_form(form: Result<Form<NginxCall>, FormRejection>) -> Result<NginxCall, ApiError> {
    form.map(|Form(call)| call).map_err(|rejection| {
        tracing::warn!(%rejection, "live webhook with a malformed body");
        malformed(format!("not an nginx-rtmp notification: {rejection}"))
    })
}

/// A MediaMTX request's JSON body, or the 400 for one that is not `what`.
fn mediamtx_body<T>(body: Result<Json<T>, JsonRejection>, what: &str) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        tracing::warn!(%rejection, what, "MediaMTX hook with a malformed body");
        malformed(format!("not a MediaMTX {what}: {rejection}"))
    })
}

fn malformed(message: String) -> ApiError {
    ApiError::Coded(StatusCode::BAD_REQUEST, "malformed_hook", message)
}

/// nginx-rtmp `on_publish`: 2xx lets the push in, 403 refuses it.
#[utoipa::path(post, path = "/api/v1/live/hooks/nginx/publish", tag = "live",
    request_body(content = NginxCall, content_type = "application/x-www-form-urlencoded"),
    params(("secret" = Option<String>, Query, description = "FERROTAPE_LIVE_HOOK_SECRET, unless called from loopback")),
    responses(
        (status = 204, description = "Allowed"),
        (status = 400, description = "Not an nginx-rtmp notification"),
        (status = 403, description = "Refused: unknown key or application, a second publisher, too many refusals, or an unauthenticated caller"),
    ))]
pub async fn nginx_publish(
    _caller: HookCaller,
    State(state): State<AppState>,
    form: Result<Form<NginxCall>, FormRejection>,
) -> Result<Response, ApiError> {
    let call = nginx_form(form)?;
    let addr = address(call.addr.as_deref());
    Ok(
        match decide(
            &state,
            &call.app,
            &call.name,
            &publisher_of_nginx(&call),
            addr,
        )
        .await?
        {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(reason) => refusal(reason),
        },
    )
}

/// nginx-rtmp `on_update` (every `notify_update_timeout` while a push lasts): 403 cuts a push
/// whose key was regenerated or whose stream was deleted.
#[utoipa::path(post, path = "/api/v1/live/hooks/nginx/update", tag = "live",
    request_body(content = NginxCall, content_type = "application/x-www-form-urlencoded"),
    params(("secret" = Option<String>, Query, description = "FERROTAPE_LIVE_HOOK_SECRET, unless called from loopback")),
    responses(
        (status = 204, description = "The push goes on"),
        (status = 403, description = "The push is cut"),
    ))]
pub async fn nginx_update(
    _caller: HookCaller,
    State(state): State<AppState>,
    form: Result<Form<NginxCall>, FormRejection>,
) -> Result<Response, ApiError> {
    let call = nginx_form(form)?;
    // Plays (`update_play`) are not ours to judge: viewers watch our HLS, not RTMP.
    if call.call.as_deref().is_some_and(|c| c != "update_publish") {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let holds = match presented_hash(&call.name) {
        Some(hash) => live::is_live_publisher(&state.db, &hash, &publisher_of_nginx(&call)).await?,
        None => false,
    };
    if holds {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    tracing::info!(
        clientid = call.clientid,
        "push cut: its key was regenerated or its stream is gone"
    );
    Ok(refusal("the stream key is no longer valid"))
}

/// nginx-rtmp `on_publish_done`: the push stopped; the stream waits for its publisher to come
/// back within the reconnect window.
#[utoipa::path(post, path = "/api/v1/live/hooks/nginx/publish_done", tag = "live",
    request_body(content = NginxCall, content_type = "application/x-www-form-urlencoded"),
    params(("secret" = Option<String>, Query, description = "FERROTAPE_LIVE_HOOK_SECRET, unless called from loopback")),
    responses((status = 204, description = "Noted")))]
pub async fn nginx_publish_done(
    _caller: HookCaller,
    State(state): State<AppState>,
    form: Result<Form<NginxCall>, FormRejection>,
) -> Result<Response, ApiError> {
    let call = nginx_form(form)?;
    push_ended(&state, &call.name, &publisher_of_nginx(&call)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A push ended (either contract): the stream waits for its publisher within the reconnect
/// window, and its transcoder finishes. A report from a publisher that is not the live one
/// (refused, superseded, or its key regenerated) changes nothing.
async fn push_ended(state: &AppState, key: &str, publisher: &str) -> Result<(), ApiError> {
    let Some(hash) = presented_hash(key) else {
        tracing::debug!(publisher, "a push ended whose name is not a stream key");
        return Ok(());
    };
    match live::end_publish(&state.db, &hash, publisher).await? {
        Some(stream) => {
            tracing::info!(%stream, publisher, "push ended: reconnect window open");
            if let Some(transcoders) = &state.live_transcoders {
                transcoders.finish(stream);
            }
        }
        None => tracing::debug!(
            publisher,
            "a push ended that was not live (refused, or its key regenerated)"
        ),
    }
    Ok(())
}

/// MediaMTX's HTTP authentication request (the fields we read).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MediaMtxAuth {
    /// `publish`, `read`, `playback`, `api`, `metrics`, `pprof`.
    pub action: String,
    /// `<app>/<key>` for a publish.
    #[serde(default)]
    pub path: String,
    /// The client's address.
    pub ip: Option<String>,
    /// MediaMTX's id of the connection.
    pub id: Option<String>,
}

/// MediaMTX `authHTTPAddress`: 200 allows, 401 refuses. Only publishes are ours to allow;
/// reads are allowed from loopback (the live transcoder), everything else is refused.
#[utoipa::path(post, path = "/api/v1/live/hooks/mediamtx/auth", tag = "live",
    request_body = MediaMtxAuth,
    params(("secret" = Option<String>, Query, description = "FERROTAPE_LIVE_HOOK_SECRET, unless called from loopback")),
    responses(
        (status = 200, description = "Allowed"),
        (status = 400, description = "Not a MediaMTX authentication request"),
        (status = 401, description = "Refused"),
    ))]
pub async fn mediamtx_auth(
    _caller: HookCaller,
    State(state): State<AppState>,
    body: Result<Json<MediaMtxAuth>, JsonRejection>,
) -> Result<Response, ApiError> {
    let auth = mediamtx_body(body, "authentication request")?;
    let addr = address(auth.ip.as_deref());
    let unauthorized = |reason: &'static str| {
        (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": reason, "code": "publish_refused" })),
        )
            .into_response()
    };
    match auth.action.as_str() {
        "publish" => {
            let (app, key) = auth.path.split_once('/').unwrap_or(("", ""));
            let publisher = format!("mediamtx:{}", auth.id.as_deref().unwrap_or("").trim());
            Ok(match decide(&state, app, key, &publisher, addr).await? {
                Ok(_) => StatusCode::OK.into_response(),
                Err(reason) => unauthorized(reason),
            })
        }
        "read" if addr.is_loopback() => Ok(StatusCode::OK.into_response()),
        _ => Ok(unauthorized("only publishes are allowed here")),
    }
}

/// What MediaMTX's `runOnUnpublish` command posts (see the README's MediaMTX section).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MediaMtxUnpublish {
    /// `$MTX_PATH`: `<app>/<key>`.
    pub path: String,
    /// `$MTX_SOURCE_ID`: the publishing connection's id, the `id` of its auth request.
    pub id: String,
}

/// MediaMTX `runOnUnpublish`: the push on `path` stopped; as nginx-rtmp's `on_publish_done`.
#[utoipa::path(post, path = "/api/v1/live/hooks/mediamtx/unpublish", tag = "live",
    request_body = MediaMtxUnpublish,
    params(("secret" = Option<String>, Query, description = "FERROTAPE_LIVE_HOOK_SECRET, unless called from loopback")),
    responses(
        (status = 204, description = "Noted"),
        (status = 400, description = "Not a MediaMTX unpublish report"),
    ))]
pub async fn mediamtx_unpublish(
    _caller: HookCaller,
    State(state): State<AppState>,
    body: Result<Json<MediaMtxUnpublish>, JsonRejection>,
) -> Result<Response, ApiError> {
    let report = mediamtx_body(body, "unpublish report")?;
    let (app, key) = report.path.split_once('/').unwrap_or(("", ""));
    if app != state.live_hooks.app {
        tracing::debug!(app, "an unpublish on a path that is not ours");
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    push_ended(&state, key, &format!("mediamtx:{}", report.id.trim())).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
