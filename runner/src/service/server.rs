//! The HTTP/1.1 server loop: one hyper connection per client over the [`axum::Router`], with a
//! timer so that a client that sends its request headers too slowly (or never) is dropped
//! instead of holding a connection forever, and a graceful close: once `closed` resolves, no
//! connection is accepted and each open one finishes the request under way.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Serves `router` on `listener` until `closed` resolves, then waits for the open connections
/// to finish their requests. `header_timeout` bounds the time a client may take to send a
/// request's headers.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    closed: impl Future<Output = ()>,
) {
    let (close, close_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(closed);
    loop {
        tokio::select! {
            () = &mut closed => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, usually: pause rather than spin.
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let connection = builder.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(router.clone()),
                );
                let close_rx = close_rx.clone();
                connections.spawn(async move {
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        () = closing(close_rx) => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
            // Reaps the connections that ended (disabled while there are none).
            Some(_) = connections.join_next() => {}
        }
    }
    drop(listener);
    close.send_replace(true);
    while connections.join_next().await.is_some() {}
}

/// Resolves once the server closes.
async fn closing(mut close: watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, before the caller awaits anything else.
    let _ = close.wait_for(|&c| c).await;
}
