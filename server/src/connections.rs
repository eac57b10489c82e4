//! The server's connections: every accepted one gets `TCP_NODELAY`, a send timeout and a
//! header read timeout. A peer that stops reading what it asked for (a client reading a large
//! segment a byte a second, or one gone without a close) leaves a write pending; once no byte
//! has been taken for the send timeout the connection is closed, as nginx's `send_timeout` does.
//! A peer that sends a request's head a byte at a time (slow loris), or opens a connection and
//! sends nothing, is closed once the head has not arrived whole within the header read timeout,
//! as nginx's `client_header_timeout` does (hyper's, which `axum::serve` leaves off: it sets no
//! timer). So slow peers cannot pile up connections, buffers and tasks.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tower::ServiceExt;

/// What `FERROTAPE_HEADER_READ_TIMEOUT_SECS` defaults to (nginx's `client_header_timeout` is 60 s;
/// a browser sends a head in one packet).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long peers may take, and how long they may stop taking.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A write that makes no progress for this long closes the connection.
    pub send: Duration,
    /// A request's head (request line and headers) must arrive whole within this.
    pub header_read: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the open connections to finish their requests (the caller bounds that wait). Requests carry
/// `ConnectInfo<SocketAddr>`, as with `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    timeouts: Timeouts,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let mut listener = GuardedListener { listener, timeouts };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What `FERROTAPE_SEND_TIMEOUT_SECS` defaults to.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// A TCP listener whose connections close when their peer stops reading.
struct GuardedListener {
    listener: TcpListener,
    timeouts: Timeouts,
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        GuardedStream {
                            stream,
                            peer,
                            send_timeout: self.timeouts.send,
                            // hyper's own header timer starts once it knows the protocol,
                            // which takes a first byte.
                            first_byte: Some(Box::pin(tokio::time::sleep(
                                self.timeouts.header_read,
                            ))),
                            stalled: None,
                        },
                        peer,
                    );
                }
                // Out of file descriptors or a connection reset before it was taken: wait a
                // moment rather than spin (as axum's own listener does).
                Err(err) => {
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection whose writes fail once they have made no progress for the send timeout, and
/// whose reads fail when no first byte arrives within the header read timeout.
struct GuardedStream {
    stream: TcpStream,
    peer: SocketAddr,
    send_timeout: Duration,
    /// Running while a write is pending.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Running until the peer's first byte.
    first_byte: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    /// After a write op answered: progress resets the clock, a pending one starts or polls it.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.send_timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                // A reset, not a close: the kernel drops what is still queued for the peer.
                let _ = self.stream.set_zero_linger();
                tracing::info!(peer = %self.peer, ?timeout, "closing a connection whose peer stopped reading");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer took nothing for the send timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let Some(deadline) = self.first_byte.as_mut() else {
            return polled;
        };
        if polled.is_ready() {
            if buf.filled().len() > before {
                self.first_byte = None;
            }
            return polled;
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::info!(peer = %self.peer, "closing a connection that sent nothing");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing within the header read timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.guard(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const BIG: usize = 32 * 1024 * 1024;

    /// Real sockets through axum: a client that asks for 32 MiB and then reads a byte a second
    /// is cut off after the send timeout (what it can still drain is what the kernel had
    /// queued, far from the whole body, and then the connection is closed), while another
    /// client is answered meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_that_stops_reading_is_cut_off_and_others_are_served_meanwhile() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let big = bytes::Bytes::from(vec![7u8; BIG]);
        let app = axum::Router::new()
            .route(
                "/big",
                axum::routing::get(move || async move { big.clone() }),
            )
            .route("/small", axum::routing::get(|| async { "small" }));
        let timeouts = Timeouts {
            send: Duration::from_secs(2),
            header_read: DEFAULT_HEADER_READ_TIMEOUT,
        };
        tokio::spawn(serve(listener, timeouts, app, std::future::pending()));

        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut slow = socket.connect(address).await.unwrap();
        slow.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut received = 0;
        let mut byte = [0u8; 1];
        for second in 0..4 {
            received += slow.read(&mut byte).await.unwrap();
            if second == 1 {
                let mut other = tokio::net::TcpStream::connect(address).await.unwrap();
                other
                    .write_all(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut answer = String::new();
                other.read_to_string(&mut answer).await.unwrap();
                assert!(answer.ends_with("small"), "{answer}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let mut buffer = vec![0u8; 1 << 20];
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match slow.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "the server kept the stalled connection open"
        );
        assert!(
            received < BIG / 2,
            "{received} bytes reached the slow reader"
        );
    }

    /// A small app on real sockets with a 1 s header read timeout; its `/peer` answers the
    /// address `ConnectInfo` gave it.
    async fn header_timed_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/peer",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        let timeouts = Timeouts {
            send: DEFAULT_SEND_TIMEOUT,
            header_read: Duration::from_secs(1),
        };
        tokio::spawn(serve(listener, timeouts, app, std::future::pending()));
        address
    }

    /// Reads until the server closes the connection (or resets it); how long that took.
    async fn until_closed(stream: &mut TcpStream) -> Duration {
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 1024];
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await
        .expect("the server kept the connection open");
        started.elapsed()
    }

    /// Slow loris: a head sent a byte every 200 ms (each byte well within any idle timeout)
    /// never completes and the connection is closed once the header read timeout has passed;
    /// a connection that sends nothing is closed too; a prompt client meanwhile is answered,
    /// with its own address.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_peer_sending_its_request_head_slowly_or_not_at_all_is_cut_off() {
        let address = header_timed_server().await;
        let mut loris = TcpStream::connect(address).await.unwrap();
        let mut silent = TcpStream::connect(address).await.unwrap();
        let dripping = tokio::spawn(async move {
            let head = b"GET /peer HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            let started = std::time::Instant::now();
            for byte in head {
                if loris.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut answer = Vec::new();
            let _ = loris.read_to_end(&mut answer).await;
            (started.elapsed(), answer)
        });

        let mut prompt = TcpStream::connect(address).await.unwrap();
        prompt
            .write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        prompt.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");

        let silent_for = until_closed(&mut silent).await;
        assert!(
            silent_for < Duration::from_secs(5),
            "a silent connection stayed {silent_for:?}"
        );
        let (dripped_for, answer) = dripping.await.unwrap();
        // The whole head would take 15 s at this pace; it was cut off after about 1 s (hyper
        // may first answer 408), never served.
        assert!(
            dripped_for < Duration::from_secs(5),
            "the slow head was read for {dripped_for:?}"
        );
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            !answer.contains("127.0.0.1"),
            "the slow request was served: {answer}"
        );
    }
}
