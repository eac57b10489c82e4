//! Resolves the tenant of each request and stores it in the request extensions, where
//! handlers and server functions read it.
//!
//! Single-tenant for now: every request belongs to the default tenant. Host-name mapping (and
//! `X-Tenant-ID` from trusted proxies) replaces this function with the accounts work; callers
//! already take the tenant from here, never from a constant.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use ferrotape_model::TenantId;

pub async fn resolve_tenant(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(TenantId::DEFAULT);
    next.run(request).await
}
