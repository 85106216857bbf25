//! The TLS client configuration of outgoing requests: the system's roots (read once per process)
//! plus, per run, the job's own CA bundle (Cortex's `cacerts`, what `REQUESTS_CA_BUNDLE` points
//! Python workers at).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use sha2::{Digest, Sha256};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The largest CA bundle a job may bring.
const MAX_BUNDLE_BYTES: usize = 4 << 20;
/// How many configurations with extra roots are kept (by the bundle's sha256): jobs of one Cortex
/// organisation bring the same bundle, and building a configuration copies the system's roots.
const CACHED_CONFIGS: usize = 32;

/// The system's roots, loaded on first use; certificates the system store holds but rustls
/// cannot parse are skipped (as every rustls client does).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(%error, "a system root certificate could not be loaded");
        }
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "system root certificates loaded");
        store
    })
}

/// The configuration without extra roots, shared by every run that brings none.
fn shared_default() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(build(system_roots().clone())))
        .clone()
}

fn build(roots: RootCertStore) -> ClientConfig {
    // ring, like the rest of the workspace (kube, the service's client); rustls 0.23.37+ marks
    // ring's provider deprecated for lacking post-quantum key exchange, which these API calls
    // to analysis services do not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// The client configuration trusting the system's roots and every certificate of `extra_pem`
/// (PEM; empty for none). A bundle that is too large, or holds no certificate, is an error that
/// says so.
pub(crate) fn client_config(extra_pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    if extra_pem.iter().all(u8::is_ascii_whitespace) {
        return Ok(shared_default());
    }
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<ClientConfig>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let key: [u8; 32] = Sha256::digest(extra_pem).into();
    if let Some(config) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(config.clone());
    }
    let config = build_with_extra(extra_pem)?;
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CACHED_CONFIGS {
        cache.clear();
    }
    cache.insert(key, config.clone());
    Ok(config)
}

fn build_with_extra(extra_pem: &[u8]) -> Result<Arc<ClientConfig>, String> {
    if extra_pem.len() > MAX_BUNDLE_BYTES {
        return Err(format!(
            "the job's CA bundle is {} bytes, more than the {MAX_BUNDLE_BYTES} accepted",
            extra_pem.len()
        ));
    }
    let mut roots = system_roots().clone();
    let mut added = 0usize;
    for cert in CertificateDer::pem_slice_iter(extra_pem) {
        let cert = cert.map_err(|e| format!("the job's CA bundle is not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the job's CA bundle holds a certificate rustls refuses: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err("the job's CA bundle holds no PEM certificate".to_owned());
    }
    Ok(Arc::new(build(roots)))
}
