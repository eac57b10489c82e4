//! Player beacons as the tests post them to `POST /api/v1/events`.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use axum::body::Body;
use axum::http::Method;

use super::{Client, TestApp, TestResponse};

/// The browser's clock: milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// One event of `view` at `at`, with a fresh id and the fields of `body` (its `type` and
/// the kind's own fields).
pub fn ev(view: Uuid, at: i64, body: Value) -> Value {
    let mut event = json!({ "id": Uuid::new_v4(), "view": view, "at": at });
    event
        .as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    event
}

/// Posts one batch `body` to `POST /api/v1/events` from `client`, with `headers` (user agent,
/// language, privacy signals…) as the browser would send them.
pub async fn post_batch(
    client: &mut Client<'_>,
    body: String,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = client.request(Method::POST, "/api/v1/events");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    client.send(request.body(Body::from(body)).unwrap()).await
}

/// Waits until the analytics pipeline has written everything it accepted.
pub async fn drained(app: &TestApp) {
    for _ in 0..200 {
        if app.analytics.pipeline.buffered() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the analytics buffer never emptied");
}
