use ferrotape_model::TenantId;

use crate::ClientContext;

/// What the server's request middleware established about a request, before any handler runs.
/// Handlers and server functions read it from the request extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub tenant: TenantId,
    pub client: ClientContext,
    /// `host[:port]` the browser addressed (the authority an `Origin` header must match).
    pub authority: String,
    /// Whether session cookies get the `Secure` flag.
    pub secure_cookies: bool,
    /// Whether the browser reached us over HTTPS (a trusted proxy said so): only then may
    /// responses carry `Strict-Transport-Security`.
    pub https: bool,
}
