//! The HTTP proxy every connection of a URL import goes through (`yt-dlp --proxy`).
//!
//! Why a proxy rather than checking the URL once: yt-dlp follows redirects, reads pages that
//! name further URLs (OpenGraph tags, HLS playlists and their segments, thumbnails) and
//! resolves host names itself, so a check of the pasted URL says nothing about the next
//! request, and a check by name says nothing about the address the name resolves to a moment
//! later (DNS rebinding). Here every connection yt-dlp makes names its destination to us;
//! we resolve it, check every address against the import policy, and connect to the address we
//! checked. Nothing else yt-dlp could do reaches the network: it runs without ffmpeg (which
//! would ignore the proxy for some protocols) and the proxy speaks only `CONNECT` (https,
//! tunnelled: TLS stays end to end between yt-dlp and the server) and absolute-form `http://`
//! requests; `ftp://` or anything else through it is refused.
//!
//! It also counts every byte that comes back, so an import cannot download more than its limit
//! whatever the server announces: past it, every connection is cut.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotape_store::import_policy::{ImportPolicy, ImportRefused};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The longest request head accepted from yt-dlp.
const MAX_HEAD: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the proxy saw, shared with the job.
struct Shared {
    policy: ImportPolicy,
    /// Bytes received from the destinations so far.
    received: AtomicU64,
    /// Beyond this many bytes every connection is cut.
    limit: u64,
    over_limit: AtomicBool,
    /// The first destination refused, in the editor's words.
    refused: Mutex<Option<String>>,
}

/// A running proxy; it stops (with every connection) when dropped.
pub struct CheckingProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CheckingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CheckingProxy {
    /// Listens on a free loopback port.
    pub async fn start(policy: ImportPolicy, limit: u64) -> std::io::Result<CheckingProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            policy,
            received: AtomicU64::new(0),
            limit,
            over_limit: AtomicBool::new(false),
            refused: Mutex::new(None),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Ok(CheckingProxy {
            address,
            shared,
            task,
        })
    }

    /// The `--proxy` argument.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Why a destination was refused, if one was.
    pub fn refused(&self) -> Option<String> {
        self.shared.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Whether the download went past the limit (and was cut).
    pub fn over_limit(&self) -> bool {
        self.shared.over_limit.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in the set: aborting this task drops it and cuts them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                connections.spawn(serve(client, shared.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One client connection: a `CONNECT host:port` tunnel or one forwarded `http://` request.
async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let Some(request) = Request::parse(&head) else {
        let _ = respond(&mut client, "400 Bad Request", "malformed proxy request").await;
        return;
    };
    let (host, port) = match &request.target {
        Target::Tunnel { host, port } => (host.clone(), *port),
        Target::Forward { url } => match (url.scheme(), url.host_str()) {
            ("http", Some(host)) => (host.to_owned(), url.port_or_known_default().unwrap_or(80)),
            (scheme, _) => {
                let refusal = ImportRefused::Scheme(scheme.to_owned()).to_string();
                refuse(&shared, &mut client, refusal).await;
                return;
            }
        },
    };
    let addresses = match shared.policy.resolve(&host, port).await {
        Ok(addresses) => addresses,
        Err(refused) => {
            refuse(&shared, &mut client, refused.to_string()).await;
            return;
        }
    };
    let Some(mut upstream) = connect(&addresses).await else {
        let _ = respond(&mut client, "502 Bad Gateway", "cannot connect").await;
        return;
    };
    match &request.target {
        Target::Tunnel { .. } => {
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        Target::Forward { url } => {
            let head = request.origin_form(url);
            if upstream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    relay(client, upstream, &shared).await;
}

async fn refuse(shared: &Shared, client: &mut TcpStream, refusal: String) {
    tracing::info!(%refusal, "import proxy refused a destination");
    if let Ok(mut first) = shared.refused.lock() {
        first.get_or_insert_with(|| refusal.clone());
    }
    let _ = respond(client, "403 Forbidden", &refusal).await;
}

async fn respond(client: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes()).await
}

async fn connect(addresses: &[SocketAddr]) -> Option<TcpStream> {
    for address in addresses {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            return Some(stream);
        }
    }
    None
}

/// Reads up to the end of the request head; returns it and whatever followed it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            let head = String::from_utf8(buffer).map_err(std::io::Error::other)?;
            return Ok((head, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too long"));
        }
        let n = tokio::time::timeout(CONNECT_TIMEOUT, client.read(&mut chunk))
            .await
            .map_err(std::io::Error::other)??;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

enum Target {
    Tunnel { host: String, port: u16 },
    Forward { url: url::Url },
}

struct Request {
    method: String,
    version: String,
    headers: Vec<String>,
    target: Target,
}

impl Request {
    fn parse(head: &str) -> Option<Request> {
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let (method, target, version) = (first.next()?, first.next()?, first.next()?);
        if first.next().is_some() || !version.starts_with("HTTP/1.") {
            return None;
        }
        let headers = lines.filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let target = if method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = target.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return None;
            }
            Target::Tunnel {
                host: host.to_owned(),
                port: port.parse().ok()?,
            }
        } else {
            Target::Forward {
                url: url::Url::parse(target).ok()?,
            }
        };
        Some(Request {
            method: method.to_owned(),
            version: version.to_owned(),
            headers,
            target,
        })
    }

    /// The request as the destination server gets it: origin-form target, no proxy headers,
    /// one request per connection.
    fn origin_form(&self, url: &url::Url) -> String {
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        let mut head = format!("{} {path} {}\r\n", self.method, self.version);
        for header in &self.headers {
            let name = header.split(':').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("connection")
                || name.to_ascii_lowercase().starts_with("proxy-")
            {
                continue;
            }
            head.push_str(header);
            head.push_str("\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    }
}

/// Copies both ways until either side closes, counting what comes back against the limit.
async fn relay(client: TcpStream, upstream: TcpStream, shared: &Shared) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let outbound = async {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
    };
    let inbound = copy_counted(&mut upstream_read, &mut client_write, shared);
    // The answer ending ends the exchange; a client that stops sending does not.
    tokio::select! {
        () = inbound => {}
        () = async { outbound.await; std::future::pending::<()>().await } => {}
    }
}

async fn copy_counted(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    shared: &Shared,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if shared.over_limit.load(Ordering::SeqCst) {
            return;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let total = shared.received.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total > shared.limit {
            shared.over_limit.store(true, Ordering::SeqCst);
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_requests_lose_their_proxy_headers_and_keep_alive() {
        let request = Request::parse(
            "GET http://example.org/a/b.mp4?x=1 HTTP/1.1\r\nHost: example.org\r\n\
             Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nRange: bytes=0-\r\n\r\n",
        )
        .unwrap();
        let Target::Forward { url } = &request.target else {
            panic!("not a forward")
        };
        assert_eq!(
            request.origin_form(url),
            "GET /a/b.mp4?x=1 HTTP/1.1\r\nHost: example.org\r\nRange: bytes=0-\r\n\
             Connection: close\r\n\r\n"
        );
    }

    #[test]
    fn tunnels_name_host_and_port() {
        let request = Request::parse("CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(matches!(request.target, Target::Tunnel { ref host, port: 443 } if host == "::1"));
        assert!(Request::parse("CONNECT example.org HTTP/1.1\r\n\r\n").is_none());
        assert!(Request::parse("GET /relative HTTP/1.1\r\n\r\n").is_none());
    }
}
