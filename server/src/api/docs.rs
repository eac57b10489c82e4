//! The REST API's OpenAPI 3.1 document and its reference page. The document is generated from
//! the handlers' `#[utoipa::path]` annotations and the model's `ToSchema` types as the routes
//! are registered (`utoipa_axum::OpenApiRouter`), so it cannot describe a route that is not
//! served. `GET /api/v1/openapi.json` serves it; `GET /api/v1/docs` renders it as plain HTML
//! on the server (no script: the page CSP allows none from elsewhere, and none is needed).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Every error of the API: a message for people, a stable `code` for programs where one
/// applies, and for a refused field of a talk, speaker, tag or key the `field`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub code: Option<String>,
    pub field: Option<String>,
    /// A refused subtitle file's problems, each with its line.
    pub problems: Option<Vec<ferrotape_model::subtitles::Problem>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferrotape API",
        version = "1",
        description = "Talks, speakers, tags, videos and uploads of one Ferrotape site.\n\n\
            **Authentication.** Send an API key as `Authorization: Bearer ft_…` (create one at \
            /studio/api-keys; a `read` key may only GET and HEAD, a `write` key everything its \
            user's role allows). A request with a key is authenticated by the key alone: its \
            cookies are ignored and CSRF checks do not apply. Browsers use the session cookies \
            of /login instead (then state-changing requests must come from this site). A \
            malformed, unknown or revoked key is a 401 `invalid_token` with \
            `WWW-Authenticate: Bearer error=\"invalid_token\"`.\n\n\
            **Conditional requests.** A GET of one resource sends its `ETag` (strong); send it \
            back as `If-None-Match` for a 304, or as `If-Match` on PUT and DELETE: a resource \
            that changed since answers 412 and nothing is written. Without `If-Match` a change \
            applies to whatever is current (last write wins).\n\n\
            **Lists** are pages of at most `limit` items (1–100, default 50) with `next`, the \
            `cursor` of the following page; absent on the last page.\n\n\
            **Errors** are JSON `{error, code?, field?}`; a refused field is a 422 naming it; a \
            refused subtitle file a 422 with `problems` (`{line, message}`).",
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "talks", description = "Talks the caller may edit: their own, or as an admin all of the site's"),
        (name = "speakers", description = "The site's speaker profiles"),
        (name = "tags", description = "The site's tags"),
        (name = "live", description = "Live streams the caller manages, their keys, and the webhooks the RTMP ingest calls"),
        (name = "videos", description = "Uploaded videos"),
        (name = "subtitles", description = "The caption tracks of a talk's video, as the subtitle editor edits them"),
        (name = "uploads", description = "The resumable upload protocol"),
        (name = "imports", description = "Videos imported from a URL"),
        (name = "api-keys", description = "API keys (with a session only)"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "admin", description = "Administration"),
        (name = "studio", description = "The studio's live events"),
        (name = "reference", description = "This document"),
    ),
    security(("api_key" = []), ("session" = [])),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ft_…")
                    .description(Some("An API key from /studio/api-keys"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ft_access",
                "The session cookie set by log in (browsers)",
            ))),
        );
    }
}

/// The document and its two renderings, made once at start-up.
pub struct Reference {
    json: String,
    html: String,
}

impl Reference {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Reference {
        let value = serde_json::to_value(document).unwrap_or(Value::Null);
        Reference {
            json: serde_json::to_string_pretty(&value).unwrap_or_default(),
            html: render(&value),
        }
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(reference_page))
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "reference", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json(Extension(reference): Extension<Arc<Reference>>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        reference.json.clone(),
    )
        .into_response()
}

/// This document as a page to read.
#[utoipa::path(get, path = "/api/v1/docs", tag = "reference", security(()),
    responses((status = 200, description = "The API reference (HTML)", content_type = "text/html")))]
pub async fn reference_page(Extension(reference): Extension<Arc<Reference>>) -> Response {
    Html(reference.html.clone()).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown-ish text of the document as HTML: paragraphs, `code` and **bold**.
fn prose(text: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let mut html = String::new();
        let mut code = false;
        for (i, part) in escape(paragraph).split('`').enumerate() {
            if i > 0 {
                html.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            html.push_str(part);
        }
        if code {
            html.push_str("</code>");
        }
        let mut bold = String::new();
        for (i, part) in html.split("**").enumerate() {
            if i > 0 {
                bold.push_str(if i % 2 == 1 { "<strong>" } else { "</strong>" });
            }
            bold.push_str(part);
        }
        let _ = write!(out, "<p>{bold}</p>");
    }
    out
}

fn schema_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// A schema in a few words: `string (uuid)`, `array of Speaker`, a link for a reference.
fn type_text(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = escape(schema_name(reference));
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = options.iter().map(type_text).collect();
            let joiner = if key == "allOf" { " and " } else { " or " };
            return parts.join(joiner);
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&v.to_string())))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let mut text = types
        .iter()
        .map(|t| {
            if t == "array" {
                let items = schema.get("items").map(type_text).unwrap_or_default();
                format!("array of {items}")
            } else {
                escape(t)
            }
        })
        .collect::<Vec<_>>()
        .join(" or ");
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(text, " ({})", escape(format));
    }
    if text.is_empty() {
        "any".to_owned()
    } else {
        text
    }
}

fn content_schema(body: &Value) -> Option<(String, String)> {
    let content = body.get("content")?.as_object()?;
    let (media_type, entry) = content.iter().next()?;
    let schema = entry.get("schema").map(type_text).unwrap_or_default();
    Some((escape(media_type), schema))
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;\
padding:1rem;color:#e8e8ea;background:#15161a}a{color:#8ab4ff}code{font-family:ui-monospace,\
monospace;background:#24262d;padding:0 .2em;border-radius:3px}h2{border-bottom:1px solid #3a3d46;\
padding-bottom:.3rem;margin-top:2.5rem}section.op{border:1px solid #3a3d46;border-radius:6px;\
padding:.5rem 1rem;margin:1rem 0}.method{display:inline-block;min-width:4.5em;font-weight:700;\
text-transform:uppercase}table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{\
text-align:left;vertical-align:top;padding:.25rem .5rem;border-bottom:1px solid #2c2f37}\
th{color:#b8bcc8;font-weight:600}nav ul{columns:2}";

/// One operation of the document: method, path template, the operation object.
type Operation = (String, String, Value);

/// The reference page: the document's description, every operation by tag (parameters,
/// request body, responses, who may call it), then every schema with its properties.
fn render(doc: &Value) -> String {
    let mut html = String::new();
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API");
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} reference</title><style>{STYLE}</style></head><body><main>\
         <h1>{} reference</h1><p>Machine-readable: <a href=\"/api/v1/openapi.json\">\
         /api/v1/openapi.json</a> (OpenAPI {}).</p>",
        escape(title),
        escape(title),
        escape(doc.get("openapi").and_then(Value::as_str).unwrap_or("3.1")),
    );
    if let Some(description) = doc.pointer("/info/description").and_then(Value::as_str) {
        html.push_str(&prose(description));
    }
    let empty = serde_json::Map::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    // Operations grouped by their first tag, in the document's tag order.
    let tag_order: Vec<String> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<(String, Vec<Operation>)> =
        tag_order.iter().map(|t| (t.clone(), Vec::new())).collect();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let tag = operation
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .unwrap_or("other")
                .to_owned();
            let index = match groups.iter().position(|(t, _)| *t == tag) {
                Some(i) => i,
                None => {
                    groups.push((tag, Vec::new()));
                    groups.len() - 1
                }
            };
            groups[index]
                .1
                .push((method.to_owned(), path.clone(), operation.clone()));
        }
    }
    groups.retain(|(_, ops)| !ops.is_empty());
    html.push_str("<nav aria-label=\"Contents\"><h2>Contents</h2><ul>");
    for (tag, _) in &groups {
        let _ = write!(html, "<li><a href=\"#tag-{0}\">{0}</a></li>", escape(tag));
    }
    html.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
    let tag_descriptions: std::collections::HashMap<String, String> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| {
                    Some((
                        t.get("name")?.as_str()?.to_owned(),
                        t.get("description")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let default_security = doc.get("security").cloned().unwrap_or(Value::Null);
    for (tag, operations) in &groups {
        let _ = write!(html, "<h2 id=\"tag-{0}\">{0}</h2>", escape(tag));
        if let Some(description) = tag_descriptions.get(tag) {
            let _ = write!(html, "<p>{}</p>", escape(description));
        }
        for (method, path, operation) in operations {
            render_operation(&mut html, method, path, operation, &default_security);
        }
    }
    html.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            render_schema(&mut html, name, schema);
        }
    }
    html.push_str("</main></body></html>");
    html
}

fn render_operation(html: &mut String, method: &str, path: &str, op: &Value, default: &Value) {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or(path);
    let _ = write!(
        html,
        "<section class=\"op\" id=\"op-{}\" aria-labelledby=\"op-{}-title\">\
         <h3 id=\"op-{}-title\"><span class=\"method\">{}</span> <code>{}</code></h3>",
        escape(id),
        escape(id),
        escape(id),
        escape(method),
        escape(path),
    );
    for key in ["summary", "description"] {
        if let Some(text) = op.get(key).and_then(Value::as_str) {
            html.push_str(&prose(text));
        }
    }
    let security = op.get("security").unwrap_or(default);
    let schemes: Vec<String> = security
        .as_array()
        .map(|alternatives| {
            alternatives
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|o| o.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    let auth = if schemes.is_empty() {
        "none".to_owned()
    } else {
        schemes
            .iter()
            .map(|s| match s.as_str() {
                "api_key" => "API key (<code>Authorization: Bearer ft_…</code>)".to_owned(),
                "session" => "session cookie".to_owned(),
                other => escape(other),
            })
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let _ = write!(html, "<p><strong>Authentication:</strong> {auth}</p>");
    if let Some(params) = op.get("parameters").and_then(Value::as_array)
        && !params.is_empty()
    {
        html.push_str(
            "<table><caption>Parameters</caption><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">In</th><th scope=\"col\">Type</th><th scope=\"col\">Required</th>\
             <th scope=\"col\">Description</th></tr></thead><tbody>",
        );
        for param in params {
            let text = |key: &str| param.get(key).and_then(Value::as_str).unwrap_or("");
            let required = param
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(text("name")),
                escape(text("in")),
                param.get("schema").map(type_text).unwrap_or_default(),
                if required { "yes" } else { "no" },
                escape(text("description")),
            );
        }
        html.push_str("</tbody></table>");
    }
    if let Some((media_type, schema)) = op.get("requestBody").and_then(content_schema) {
        let _ = write!(
            html,
            "<p><strong>Request body</strong> (<code>{media_type}</code>): {schema}</p>"
        );
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        html.push_str(
            "<table><caption>Responses</caption><thead><tr><th scope=\"col\">Status</th>\
             <th scope=\"col\">Meaning</th><th scope=\"col\">Body</th></tr></thead><tbody>",
        );
        for (status, response) in responses {
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let body = content_schema(response)
                .map(|(media_type, schema)| format!("{schema} <small>({media_type})</small>"))
                .unwrap_or_else(|| "—".to_owned());
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
                escape(status),
                escape(description),
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
}

fn render_schema(html: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        html,
        "<section class=\"op\" id=\"schema-{0}\" aria-labelledby=\"schema-{0}-title\">\
         <h3 id=\"schema-{0}-title\">{0}</h3>",
        escape(name)
    );
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        html.push_str(&prose(description));
    }
    // Flattened types are an allOf of parts; list every part's properties.
    let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_array) {
        Some(parts) => parts.iter().collect(),
        None => vec![schema],
    };
    let mut rows = String::new();
    for part in parts {
        if let Some(reference) = part.get("$ref").and_then(Value::as_str) {
            let target = escape(schema_name(reference));
            let _ = write!(
                rows,
                "<tr><td colspan=\"4\">Every property of <a href=\"#schema-{target}\">{target}</a></td></tr>"
            );
            continue;
        }
        let required: Vec<&str> = part
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = part.get("properties").and_then(Value::as_object) {
            for (property, spec) in properties {
                let _ = write!(
                    rows,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(property),
                    type_text(spec),
                    if required.contains(&property.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    escape(
                        spec.get("description")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    ),
                );
            }
        }
    }
    if rows.is_empty() {
        let _ = write!(html, "<p>{}</p>", type_text(schema));
    } else {
        let _ = write!(
            html,
            "<table><thead><tr><th scope=\"col\">Property</th><th scope=\"col\">Type</th>\
             <th scope=\"col\">Required</th><th scope=\"col\">Description</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        );
    }
    html.push_str("</section>");
}
