//! The server's listener: every accepted connection gets `TCP_NODELAY` and a send timeout. A
//! peer that stops reading what it asked for (a client reading a large segment a byte a second,
//! or one gone without a close) leaves a write pending; once no byte has been taken for the
//! send timeout the connection is closed, as nginx's `send_timeout` does, so slow readers
//! cannot pile up connections, buffers and tasks.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::{ListenerExt, TapIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// What `FERROTAPE_SEND_TIMEOUT_SECS` defaults to.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// A TCP listener whose connections close when their peer stops reading.
pub struct GuardedListener {
    listener: TcpListener,
    send_timeout: Duration,
}

/// What `axum::serve` takes: axum gives `ConnectInfo<SocketAddr>` to a listener wrapped by
/// `tap_io`, so the guarded listener is handed over that way.
pub type Served = TapIo<GuardedListener, fn(&mut SendGuarded)>;

impl GuardedListener {
    pub fn new(listener: TcpListener, send_timeout: Duration) -> GuardedListener {
        GuardedListener {
            listener,
            send_timeout,
        }
    }

    pub fn served(self) -> Served {
        self.tap_io(|_| {})
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = SendGuarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SendGuarded, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        SendGuarded {
                            stream,
                            peer,
                            send_timeout: self.send_timeout,
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

/// A connection whose writes fail once they have made no progress for the send timeout.
pub struct SendGuarded {
    stream: TcpStream,
    peer: SocketAddr,
    send_timeout: Duration,
    /// Running while a write is pending.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl SendGuarded {
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

impl AsyncRead for SendGuarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendGuarded {
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
            .route("/small", axum::routing::get(|| async { "small" }))
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let listener = GuardedListener::new(listener, Duration::from_secs(2));
            axum::serve(listener.served(), app).await.unwrap();
        });

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
}
