//! The test CA and the leaf certificate, generated at every start, and the TLS acceptor.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::{API_HOSTS, Error};

/// The CA (its PEM, for clients) and the leaf it signed (for the server).
pub(crate) struct Certificates {
    pub(crate) ca_pem: String,
    leaf_der: CertificateDer<'static>,
    ca_der: CertificateDer<'static>,
    leaf_key: PrivatePkcs8KeyDer<'static>,
}

impl Certificates {
    /// A fresh CA (ECDSA P-256, CA:true, keyCertSign) and a leaf for the three API hosts,
    /// `localhost` and `127.0.0.1`. Fresh keys every start: nothing secret is committed, and a
    /// client trusts this run's CA only.
    pub(crate) fn generate() -> Result<Self, Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "api-standin test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut names: Vec<String> = API_HOSTS.iter().map(|h| (*h).to_owned()).collect();
        names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
        let leaf_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(names)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "api-standin");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // Python's ssl with VERIFY_X509_STRICT (3.13's default) wants the AKI extension.
        leaf.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            leaf_der: leaf_cert.der().clone(),
            leaf_key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        })
    }

    /// A rustls acceptor (ring, TLS 1.2 and 1.3, HTTP/1.1 by ALPN) presenting the leaf and the
    /// CA as its chain.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, Error> {
        // ring, as the workspace's other rustls users; rustls 0.23.48 deprecates it for lacking
        // post-quantum key exchange, which a local test server does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.leaf_der.clone(), self.ca_der.clone()],
                PrivateKeyDer::Pkcs8(self.leaf_key.clone_key()),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
