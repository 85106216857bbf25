//! `--allow`, `--allow-address`, `--max-requests`: the network of a component run by `exec` or
//! `bench`, which have no policy file; the same rules as a policy's `[wasm.network]`.

use clap::Args;

use cortex_runner::config::limits;
use cortex_runner::policy::NetworkRules;

/// The network flags; no `--allow` means no network (every request is denied).
#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// An origin a component may send HTTP requests to, `scheme://host[:port]` (repeatable); the
    /// job's `config.proxy.*` and `config.cacerts` apply as in a policy's `[wasm.network]`.
    #[arg(long = "allow", value_name = "ORIGIN", value_parser = parse_origin)]
    allow: Vec<wasm_host::net::Origin>,
    /// An internal address or CIDR range an allowed name may resolve to (repeatable).
    #[arg(long = "allow-address", value_name = "CIDR", value_parser = parse_net)]
    allow_address: Vec<wasm_host::net::IpNet>,
    /// Requests per job (1..=100000).
    #[arg(long, default_value_t = u64::from(NetworkRules::DEFAULT_MAX_REQUESTS), value_name = "N",
          value_parser = clap::value_parser!(u64).range(limits::NETWORK_REQUESTS))]
    max_requests: u64,
}

impl NetworkArgs {
    /// The rules, or `None` without `--allow`.
    pub fn rules(&self) -> Option<NetworkRules> {
        (!self.allow.is_empty()).then(|| NetworkRules {
            allow: self.allow.clone(),
            allow_addresses: self.allow_address.clone(),
            max_tlp: None,
            max_pap: None,
            max_requests: u32::try_from(self.max_requests).unwrap_or(u32::MAX),
            max_response_kib: NetworkRules::DEFAULT_MAX_RESPONSE_KIB,
            request_timeout_s: NetworkRules::DEFAULT_REQUEST_TIMEOUT_S,
        })
    }
}

fn parse_origin(s: &str) -> Result<wasm_host::net::Origin, String> {
    s.parse()
}

fn parse_net(s: &str) -> Result<wasm_host::net::IpNet, String> {
    s.parse::<wasm_host::net::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(Into::into))
        .map_err(|_| format!("{s:?} is not an IP address or a CIDR range such as 10.0.0.0/8"))
}
