//! The one port: each connection's first byte tells TLS (a handshake record, 0x16) from plain
//! HTTP, which serves `CONNECT` to the API hosts (the tunnel's TLS then ends here too) and
//! `GET /_standin/stats`. Finished TLS sessions go to the HTTPS router through a channel.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::API_HOSTS;
use crate::stats::Counters;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// A client gets this long to send its first byte, a plain request's head, or finish the TLS
/// handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest plain-HTTP request head read (request line and headers).
const MAX_HEAD: usize = 8 * 1024;

/// Accepts connections until `stopped` changes or its sender is dropped.
pub(crate) async fn serve(
    socket: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<bool>,
) {
    let (sessions, received) = mpsc::channel(64);
    let addr = socket.local_addr().ok();
    let mut stop_server = stopped.clone();
    let server = axum::serve(Sessions { received, addr }, app).with_graceful_shutdown(async move {
        let _ = stop_server.changed().await;
    });
    tokio::spawn(async move {
        let _ = server.await;
    });
    loop {
        tokio::select! {
            accepted = socket.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                tokio::spawn(connection(
                    stream,
                    acceptor.clone(),
                    sessions.clone(),
                    Arc::clone(&counters),
                ));
            }
            _ = stopped.changed() => return,
        }
    }
}

/// One accepted connection, up to its TLS session (handed to the router) or its plain answer.
async fn connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    sessions: mpsc::Sender<TlsStream<Counted>>,
    counters: Arc<Counters>,
) {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => {}
        _ => return,
    }
    let mut stream = Counted {
        inner: stream,
        counters: Arc::clone(&counters),
    };
    if first[0] != TLS_HANDSHAKE {
        match timeout(HANDSHAKE_TIMEOUT, plain(&mut stream, &counters)).await {
            Ok(Ok(Plain::Tunnel)) => {}
            _ => return,
        }
    }
    let Ok(Ok(tls)) = timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
        return;
    };
    Counters::add(&counters.tls_sessions, 1);
    let _ = sessions.send(tls).await;
}

/// What a plain-HTTP request became.
enum Plain {
    /// A `CONNECT` to an API host was accepted: TLS follows on the same connection.
    Tunnel,
    /// Answered; the connection closes.
    Answered,
}

/// Reads one plain request head and answers it.
async fn plain(stream: &mut Counted, counters: &Counters) -> io::Result<Plain> {
    let Some(head) = read_head(stream).await? else {
        respond(
            stream,
            "400 Bad Request",
            "text/plain",
            "request head too long or cut\n",
        )
        .await?;
        return Ok(Plain::Answered);
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let host = target
            .rsplit_once(':')
            .filter(|(_, port)| port.parse::<u16>().is_ok())
            .map(|(host, _)| host.to_ascii_lowercase());
        return match host {
            Some(host) if API_HOSTS.contains(&host.as_str()) => {
                Counters::add(&counters.connects, 1);
                stream
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await?;
                Ok(Plain::Tunnel)
            }
            _ => {
                Counters::add(&counters.connects_refused, 1);
                let text = format!(
                    "api-standin tunnels only to {} (any port), not {target:?}\n",
                    API_HOSTS.join(", ")
                );
                respond(stream, "403 Forbidden", "text/plain", &text).await?;
                Ok(Plain::Answered)
            }
        };
    }
    // The origin form, or the absolute form a proxy-configured client sends.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => target,
    };
    if method == "GET" && path == "/_standin/stats" {
        let body = serde_json::to_string(&counters.snapshot()).unwrap_or_default();
        respond(stream, "200 OK", "application/json", &body).await?;
    } else {
        respond(
            stream,
            "404 Not Found",
            "text/plain",
            "api-standin: plain HTTP serves CONNECT to the API hosts and GET /_standin/stats; the APIs are on HTTPS\n",
        )
        .await?;
    }
    Ok(Plain::Answered)
}

/// Reads up to the blank line ending a request head, one byte at a time so that nothing past
/// it (the tunnel's TLS) is consumed. `None` when it is longer than [`MAX_HEAD`] or the
/// connection ends first.
async fn read_head(stream: &mut Counted) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while head.len() < MAX_HEAD {
        if stream.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        head.push(byte[0]);
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
        }
    }
    Ok(None)
}

async fn respond(
    stream: &mut Counted,
    status: &str,
    content_type: &str,
    body: &str,
) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A TCP stream that counts the bytes through it.
pub(crate) struct Counted {
    inner: TcpStream,
    counters: Arc<Counters>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            Counters::add(
                &this.counters.bytes_received,
                (buf.filled().len() - before) as u64,
            );
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            Counters::add(&this.counters.bytes_sent, n as u64);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The TLS sessions, as axum's listener: `axum::serve` runs HTTP/1.1 on each.
struct Sessions {
    received: mpsc::Receiver<TlsStream<Counted>>,
    addr: Option<std::net::SocketAddr>,
}

impl axum::serve::Listener for Sessions {
    type Io = TlsStream<Counted>;
    type Addr = Option<std::net::SocketAddr>;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.received.recv().await {
            Some(session) => (session, self.addr),
            // The acceptor stopped: no session comes any more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
