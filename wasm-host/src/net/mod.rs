//! Outbound HTTP for WASI 0.2 components, deny by default: the policy ([`NetworkPolicy`]) and
//! the `wasi:http` hook that enforces it on every request.
//!
//! A request goes out only when its origin (scheme, host, port) is in the allowlist and the run
//! has requests left. The host name is resolved once (or taken from the policy's pinned
//! addresses); addresses that are loopback, private, link-local, the cloud metadata service or
//! otherwise internal ([`special_address`]) are dropped unless the policy names them, and the
//! connection goes to an address that was checked, so a name cannot be re-pointed between the
//! check and the connection. A redirect is a new request from the guest and is checked again.
//! TLS is the host's (the system's roots plus the job's CA bundle); through a proxy, `https` goes
//! in a `CONNECT` tunnel and the proxy resolves the name. Response bodies are cut at
//! `max_response_bytes` and every request at `request_timeout`. Each refusal returns
//! `HttpRequestDenied` to the guest and leaves a sentence in the run's warnings.

mod gate;
mod policy;
mod tls;

pub use gate::NetworkStats;
pub(crate) use gate::{Gate, NetLog};
pub use policy::{
    IpNet, NetworkPolicy, Origin, Pinned, Proxies, ProxyAddr, Scheme, special_address,
};
