//! Mutual TLS: a server on 127.0.0.1 that requires a client certificate
//! signed by the test CA (`tests/fixtures`), reached with the certificate
//! and key from the credential store.

use std::sync::Arc;

use integrations_core::credentials::{CredentialKind, CredentialStore, Credentials, MemoryStore};
use integrations_core::{ConnectionId, TenantId};
use integrations_vendor::{Auth, Error, RetryPolicy, Vendor, VendorConnection};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA: &str = include_str!("fixtures/test-ca.pem");
const SERVER_CERT: &str = include_str!("fixtures/test-server.pem");
const SERVER_KEY: &str = include_str!("fixtures/test-server.key");
const CLIENT_CERT: &str = include_str!("fixtures/test-client.pem");
const CLIENT_KEY: &str = include_str!("fixtures/test-client.key");

/// Serves `https://127.0.0.1:PORT`, answering whether the client presented
/// the test client certificate; a client without one fails the handshake.
async fn mtls_server() -> String {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(CA.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let chain = CertificateDer::pem_slice_iter(SERVER_CERT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let expected = CertificateDer::from_pem_slice(CLIENT_CERT.as_bytes())
        .unwrap()
        .to_vec();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, expected) = (acceptor.clone(), expected.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // no valid client certificate
                };
                let presented = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|cert| cert.to_vec());
                let mut head = Vec::new();
                let mut buffer = [0; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = serde_json::json!({"client": presented == Some(expected)}).to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_client_certificate_opens_a_mutual_tls_connection() {
    let url = mtls_server().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let tenant = TenantId::new("acme").unwrap();
    let connection = ConnectionId::new("bank", "mtls").unwrap();
    let certificate = Credentials::new(CredentialKind::ClientCertificate {
        certificate: CLIENT_CERT.to_owned(),
        private_key: CLIENT_KEY.to_owned().into(),
    });
    store.put(&tenant, &connection, &certificate).await.unwrap();
    let connect = |auth: Auth, connection: &ConnectionId| {
        VendorConnection::builder(Vendor::new("bank", url.clone()))
            .auth(auth)
            .credentials(store.clone(), tenant.clone(), connection.clone())
            .root_certificate(CA)
            .retry(RetryPolicy::never())
            .build()
            .unwrap()
    };

    let bank = connect(Auth::ClientCertificate, &connection);
    for _ in 0..2 {
        let answer: serde_json::Value = bank.get("/whoami").send_json().await.unwrap();
        assert_eq!(
            answer["client"], true,
            "the server saw the stored certificate"
        );
    }

    // Without a certificate the server refuses the handshake.
    let err = connect(Auth::None, &connection)
        .get("/whoami")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");

    // Credentials of another kind are a clear error.
    let token = ConnectionId::new("bank", "token").unwrap();
    store
        .put(&tenant, &token, &Credentials::bearer("x"))
        .await
        .unwrap();
    let err = connect(Auth::ClientCertificate, &token)
        .get("/whoami")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { message, .. } if message.contains("client certificate")),
        "{err:?}"
    );
    assert!(!format!("{err:?} {bank:?}").contains("PRIVATE KEY"));
}
