//! HTTPS for tests: a certificate authority made on the spot ([`TestCa`]), a certificate for
//! `localhost` and `127.0.0.1` signed by it, and the server ([`crate::Strict`]) behind TLS with
//! that certificate ([`spawn`]). A client that does not trust the CA fails its handshake.

use std::path::PathBuf;
use std::sync::Arc;

/// A CA made for one test, and a server certificate it signed.
pub struct TestCa {
    /// The CA's certificate (PEM): what a client must trust.
    pub ca_pem: String,
    /// The server's certificate (PEM), for `localhost` and `127.0.0.1`.
    pub cert_pem: String,
    /// The server certificate's private key (PEM).
    pub key_pem: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "s3blob test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = server.signed_by(&key, &*ca).expect("server certificate");
        TestCa {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// Serves `root` over HTTPS on 127.0.0.1 (any free port) from a thread of its own, with the
/// server certificate of `ca`, accepting only the given credentials, until the returned server
/// is dropped.
pub fn spawn(root: PathBuf, access_key: &str, secret_key: &str, ca: &TestCa) -> crate::Running {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(ca.key_pem.as_bytes()).expect("server key PEM");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate and key");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let (ak, sk) = (access_key.to_owned(), secret_key.to_owned());
    crate::serve_on_thread(0, move |listener| async move {
        let _ = serve(listener, acceptor, root, &ak, &sk).await;
    })
}

async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    root: PathBuf,
    access_key: &str,
    secret_key: &str,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder as ConnBuilder;

    let mut builder = s3s::service::S3ServiceBuilder::new(crate::Strict::new(root)?);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, service) = (acceptor.clone(), service.clone());
        tokio::spawn(async move {
            // A client that does not trust the certificate ends its handshake here.
            let Ok(tls) = acceptor.accept(socket).await else {
                return;
            };
            let _ = ConnBuilder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
