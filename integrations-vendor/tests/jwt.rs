//! JWT assertions signed with a stored private key (a test-only EC P-256
//! key in `tests/fixtures`): as a GitHub App's bearer token, and exchanged
//! at a token endpoint as a Google service account does; the fakes check
//! the signature and the claims with the public key.

use std::sync::Arc;
use std::time::Duration;

use integrations_core::credentials::{CredentialKind, CredentialStore, Credentials, MemoryStore};
use integrations_core::{ConnectionId, TenantId};
use integrations_fakes::{FakeServer, Recorded, Reply};
use integrations_vendor::{Auth, Error, Vendor, VendorConnection};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

const PRIVATE: &str = include_str!("fixtures/test-es256.pem");
const PUBLIC: &str = include_str!("fixtures/test-es256.pub.pem");

/// The claims of a bearer JWT, if its ES256 signature checks out.
fn claims(jwt: &str, audience: Option<&str>) -> Option<serde_json::Value> {
    let key = DecodingKey::from_ec_pem(PUBLIC.as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
        .ok()
        .map(|data| data.claims)
}

fn bearer(request: &Recorded) -> String {
    request
        .header("authorization")
        .unwrap_or_default()
        .trim_start_matches("Bearer ")
        .to_owned()
}

async fn store_with_key() -> (Arc<dyn CredentialStore>, TenantId, ConnectionId) {
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let (tenant, connection) = (
        TenantId::new("acme").unwrap(),
        ConnectionId::new("github", "app").unwrap(),
    );
    let key = Credentials::new(CredentialKind::Jwt {
        key_id: Some("key-1".into()),
        private_key: PRIVATE.to_owned().into(),
    });
    store.put(&tenant, &connection, &key).await.unwrap();
    (store, tenant, connection)
}

#[tokio::test]
async fn a_github_app_jwt_is_signed_checked_and_reused_until_near_expiry() {
    let fake = FakeServer::start().await;
    fake.route("GET", "/app", |request| {
        match claims(&bearer(request), None) {
            Some(claims) if claims["iss"] == "12345" => Reply::json(200, json!({"slug": "my-app"})),
            _ => Reply::json(
                401,
                json!({"message": "A JSON web token could not be decoded"}),
            ),
        }
    });
    let (store, tenant, connection) = store_with_key().await;
    let github = VendorConnection::builder(Vendor::github().with_base_url(fake.url("")))
        .auth(Auth::JwtBearer {
            issuer: "12345".into(),
            lifetime: Duration::from_secs(540),
        })
        .credentials(store, tenant, connection)
        .build()
        .unwrap();
    for _ in 0..2 {
        let app: serde_json::Value = github.get("/app").send_json().await.unwrap();
        assert_eq!(app["slug"], "my-app");
    }
    let sent = fake.requests("/app");
    let (first, second) = (bearer(&sent[0]), bearer(&sent[1]));
    assert_eq!(first, second, "the signed token is reused");
    let header = jsonwebtoken::decode_header(&first).unwrap();
    assert_eq!(
        (header.alg, header.kid.as_deref()),
        (Algorithm::ES256, Some("key-1"))
    );
    let claims = claims(&first, None).unwrap();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 600, "540 s of life plus the minute of skew");
    assert!(iat <= chrono::Utc::now().timestamp() - 59);
}

#[tokio::test]
async fn a_service_account_jwt_is_exchanged_for_an_access_token() {
    let fake = FakeServer::start().await;
    let token_url = fake.url("/token");
    let audience = token_url.clone();
    fake.route("POST", "/token", move |request| {
        let form: std::collections::HashMap<String, String> = reqwest::Url::parse(&format!(
            "http://x/?{}",
            String::from_utf8_lossy(&request.body)
        ))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
        let granted = form.get("grant_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            && form
                .get("assertion")
                .and_then(|jwt| claims(jwt, Some(&audience)))
                .is_some_and(|c| {
                    c["iss"] == "robot@project.iam.gserviceaccount.com"
                        && c["scope"] == "https://www.googleapis.com/auth/drive.readonly"
                });
        if granted {
            Reply::json(
                200,
                json!({"access_token": "ya29.test", "token_type": "Bearer", "expires_in": 3599}),
            )
        } else {
            Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            )
        }
    });
    fake.route("GET", "/drive/v3/files", |request| {
        if bearer(request) == "ya29.test" {
            Reply::json(200, json!({"files": []}))
        } else {
            Reply::json(401, json!({"error": {"code": 401, "message": "Request had invalid authentication credentials."}}))
        }
    });
    let (store, tenant, connection) = store_with_key().await;
    let drive = VendorConnection::builder(Vendor::new("google", fake.url("")))
        .auth(Auth::JwtGrant {
            token_url: token_url.clone(),
            issuer: "robot@project.iam.gserviceaccount.com".into(),
            scope: "https://www.googleapis.com/auth/drive.readonly".into(),
        })
        .credentials(store.clone(), tenant.clone(), connection.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        drive.get("/drive/v3/files").send().await.unwrap();
    }
    assert_eq!(
        fake.requests("/token").len(),
        1,
        "one exchange, then the cached token"
    );

    // A client shared by every tenant: each view of the connection (one per
    // export, say) uses the token its first view exchanged.
    let google = VendorConnection::builder(Vendor::new("google", fake.url("")))
        .auth(Auth::JwtGrant {
            token_url: token_url.clone(),
            issuer: "robot@project.iam.gserviceaccount.com".into(),
            scope: "https://www.googleapis.com/auth/drive.readonly".into(),
        })
        .store(store.clone())
        .client()
        .unwrap();
    for _ in 0..3 {
        google
            .connection(tenant.clone(), connection.clone())
            .get("/drive/v3/files")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        fake.requests("/token").len(),
        2,
        "one exchange for the client's views of the connection"
    );

    // A key the token endpoint does not accept: its error, typed.
    let wrong = VendorConnection::builder(Vendor::new("google", fake.url("")))
        .auth(Auth::JwtGrant {
            token_url,
            issuer: "someone-else@project.iam.gserviceaccount.com".into(),
            scope: "https://www.googleapis.com/auth/drive.readonly".into(),
        })
        .credentials(store.clone(), tenant.clone(), connection)
        .build()
        .unwrap();
    let err = wrong.get("/drive/v3/files").send().await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { code, .. } if code == "invalid_grant"),
        "{err:?}"
    );
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("PRIVATE"),
        "no key material shown"
    );

    // Credentials that are not a key.
    let other = ConnectionId::new("github", "token").unwrap();
    store
        .put(&tenant, &other, &Credentials::bearer("x"))
        .await
        .unwrap();
    let err = VendorConnection::builder(Vendor::new("github", fake.url("")))
        .auth(Auth::JwtBearer {
            issuer: "1".into(),
            lifetime: Duration::from_secs(60),
        })
        .credentials(store, tenant, other)
        .build()
        .unwrap()
        .get("/app")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
}

/// Review item from issue 8: the grant was posted with the connection's
/// client, which follows redirects, so a token endpoint answering 307 had
/// the signed assertion sent again to wherever it pointed.
#[tokio::test]
async fn a_redirecting_token_endpoint_never_gets_the_assertion_forwarded() {
    let fake = FakeServer::start().await;
    let elsewhere = fake.url("/elsewhere");
    fake.route("POST", "/token", move |_| {
        Reply::text(307, "").header("location", &elsewhere)
    });
    fake.route("POST", "/elsewhere", |_| {
        Reply::json(200, json!({"access_token": "stolen", "expires_in": 3600}))
    });
    let (store, tenant, connection) = store_with_key().await;
    let drive = VendorConnection::builder(Vendor::new("google", fake.url("")))
        .auth(Auth::JwtGrant {
            token_url: fake.url("/token"),
            issuer: "robot@project.iam.gserviceaccount.com".into(),
            scope: "https://www.googleapis.com/auth/drive.readonly".into(),
        })
        .credentials(store, tenant, connection)
        .build()
        .unwrap();
    let err = drive.get("/drive/v3/files").send().await.unwrap_err();
    assert!(
        fake.requests("/elsewhere").is_empty(),
        "the assertion was forwarded"
    );
    assert!(matches!(&err, Error::OAuth { .. }), "{err:?}");
    assert!(
        err.to_string().contains("307") || format!("{err:?}").contains("307"),
        "{err:?}"
    );
}
