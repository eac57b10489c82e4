//! The REST calls of the editor (`/api/v1/talks/{id}/subtitles…`), same-origin with the
//! session cookies, `If-Match` carrying the revision.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `error` of an error body, or a generic line.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("the server answered {}", self.status))
    }
}

fn js_error(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            err.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "the network request failed".to_owned())
}

pub async fn call(
    method: &str,
    url: &str,
    if_match: Option<i32>,
    body: Option<JsValue>,
    content_type: Option<&str>,
) -> Result<Answer, String> {
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(js_error)?;
    headers
        .set("accept", "application/json")
        .map_err(js_error)?;
    if let Some(revision) = if_match {
        headers
            .set("if-match", &format!("\"{revision}\""))
            .map_err(js_error)?;
    }
    if let Some(content_type) = content_type {
        headers
            .set("content-type", content_type)
            .map_err(js_error)?;
    }
    init.set_headers(&headers);
    if let Some(body) = body.as_ref() {
        init.set_body(body);
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    Ok(Answer {
        status: response.status(),
        body: text,
    })
}

pub async fn get(url: &str) -> Result<Answer, String> {
    call("GET", url, None, None, None).await
}
