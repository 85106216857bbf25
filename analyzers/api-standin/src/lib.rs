//! api-standin: a local stand-in of the three web APIs the network analyzers call (AbuseIPDB v2,
//! URLhaus v1, GreyNoise v3), for the ports' tests and for the goldens of their Python originals.
//!
//! [`ApiStandin::start`] generates a test CA and one leaf certificate for the three API hosts,
//! `localhost` and `127.0.0.1` (module `tls`), binds one port on 127.0.0.1 and serves on it, told
//! apart by the connection's first byte (module `listener`): HTTPS for the three APIs, routed by
//! the `Host` header (module `routes`), and plain HTTP for `CONNECT <api host>:<port>` (the
//! tunnel ends in the stand-in itself, so a client with `https_proxy=http://127.0.0.1:PORT` and
//! the CA reaches the fake APIs without DNS) and for `GET /_standin/stats`. What each API answers
//! is chosen by the API key and the observable (module `scenario`, the per-API modules
//! `abuseipdb`, `urlhaus`, `greynoise`); the crate README has the table. The returned [`Running`]
//! gives the address, the CA in PEM and the [`Stats`] of what was received; [`placeholders`]
//! fills and restores the corpus inputs' port and CA placeholders.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

mod abuseipdb;
mod greynoise;
mod listener;
pub mod placeholders;
mod routes;
pub mod scenario;
mod stats;
mod tls;
mod urlhaus;

pub use stats::Stats;

/// The API hosts the stand-in answers for and the only targets `CONNECT` tunnels to.
pub const API_HOSTS: [&str; 3] = [
    "api.abuseipdb.com",
    "urlhaus-api.abuse.ch",
    "api.greynoise.io",
];

/// Errors starting the stand-in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The test CA or the leaf certificate could not be generated.
    #[error("cannot generate the test certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the generated certificate or key.
    #[error("cannot configure TLS with the generated certificate: {0}")]
    Tls(#[from] rustls::Error),
}

/// The stand-in's settings. Every default is listed in [`Options::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The port on 127.0.0.1; 0 (the default) takes any free port.
    pub port: u16,
    /// How long the `slow` key's answers wait before the (valid) response: 1.5 s.
    pub slow_delay: Duration,
    /// The pause between two bytes of the `trickle` key's body: 100 ms.
    pub trickle_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: 0,
            slow_delay: Duration::from_millis(1500),
            trickle_interval: Duration::from_millis(100),
        }
    }
}

/// Starts the stand-in.
#[derive(Debug)]
pub struct ApiStandin;

impl ApiStandin {
    /// Generates the certificates, binds 127.0.0.1:`options.port` and serves until the returned
    /// [`Running`] is dropped. Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] when the port cannot be bound, [`Error::Certificate`] or [`Error::Tls`]
    /// when the certificates cannot be generated or used.
    pub async fn start(options: Options) -> Result<Running, Error> {
        let certs = tls::Certificates::generate()?;
        let acceptor = certs.acceptor()?;
        let socket = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| Error::Bind {
                port: options.port,
                source,
            })?;
        let addr = socket.local_addr().map_err(|source| Error::Bind {
            port: options.port,
            source,
        })?;
        let counters = Arc::new(stats::Counters::default());
        let (stop, stopped) = watch::channel(false);
        let app = routes::router(routes::AppState {
            options: options.clone(),
            counters: Arc::clone(&counters),
        });
        tokio::spawn(listener::serve(
            socket,
            acceptor,
            app,
            Arc::clone(&counters),
            stopped,
        ));
        Ok(Running {
            addr,
            ca_pem: certs.ca_pem,
            counters,
            _stop: stop,
        })
    }
}

/// A started stand-in; dropping it stops accepting connections and ends the open ones.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    ca_pem: String,
    counters: Arc<stats::Counters>,
    _stop: watch::Sender<bool>,
}

impl Running {
    /// The address it listens on (127.0.0.1 and the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The test CA's certificate in PEM, to trust (a client's root store, Cortex's `cacerts`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A snapshot of what it received so far.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// The HTTPS base URL reaching `host`'s stand-in directly on this port, for a client that
    /// resolves `host` to 127.0.0.1 (`https://api.greynoise.io:PORT`); a client that goes through
    /// [`Running::proxy_url`] uses the API's real URL instead.
    pub fn url_for(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }

    /// The plain-HTTP URL to give as `https_proxy` (Cortex's `config.proxy.https`).
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The plain-HTTP URL of the counters, `http://127.0.0.1:PORT/_standin/stats`.
    pub fn stats_url(&self) -> String {
        format!("http://{}/_standin/stats", self.addr)
    }
}
