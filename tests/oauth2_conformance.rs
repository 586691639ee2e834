//! `oauth2::ClientCredentials` behind a real `SymblAuthLayer` and a real hyper-util client,
//! against a third-party OAuth2 server: Authlib's RFC 6749 authorization server on loopback
//! (`tests/oauth2_server/`), which checks client authentication, scope, revocation and expiry
//! itself. Counts come from both sides: the server's `/stats` and the layer's `stats()`.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(
    feature = "test-server",
    builtin_client,
    not(tls_provider = "installed")
))]

mod oauth2_server;
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use http::StatusCode;
use oauth2_server::{AuthServer, Client};
use serde_json::json;
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::{Error, SymblAuth, SymblAuthLayer};
use tower::{Layer, ServiceExt};

use support::*;

/// Every character §2.3.1's encoding has to carry: `:`, `+`, `/`, `%` and a space.
const SECRET: &str = "s3:cr+t/100% sure";

const BASIC: Client = Client {
    id: "basic-client",
    secret: SECRET,
    auth_method: "client_secret_basic",
    scope: "read write",
    grant_allowed: true,
};

const POST: Client = Client {
    id: "post client:1",
    secret: SECRET,
    auth_method: "client_secret_post",
    scope: "read write",
    grant_allowed: true,
};

/// The log of every test in this binary, checked for secrets.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(Captured::install)
}

fn source(server: &AuthServer, client: &Client) -> ClientCredentials {
    let method = match client.auth_method {
        "client_secret_post" => AuthMethod::ClientSecretPost,
        _ => AuthMethod::ClientSecretBasic,
    };
    ClientCredentials::new(server.url("/token"), client.id, client.secret).auth_method(method)
}

fn layer(source: ClientCredentials) -> SymblAuthLayer {
    logs();
    SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .token_retry_budget(Duration::from_secs(1))
        .build()
        .expect("layer")
}

async fn get(
    service: &SymblAuth<HttpClient>,
    url: &str,
) -> Result<StatusCode, symbl_auth::BoxError> {
    status_of(service, support::get(url)).await
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, "s3%3Acr", "wrong-secret"] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}

#[tokio::test]
async fn both_client_authentication_methods_carry_an_awkward_secret() {
    let server = AuthServer::start(&[BASIC, POST], 3600);
    for (client, method) in [(BASIC, "client_secret_basic"), (POST, "client_secret_post")] {
        let layer = layer(
            source(&server, &client)
                .scope("read write")
                .param("audience", "https://api.example/v1"),
        );
        let service = layer.layer(http1_client());
        let response = service
            .clone()
            .oneshot(support::get(&server.url("/api/read")))
            .await
            .expect("call");
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body: serde_json::Value =
            serde_json::from_str(&body_text(response).await).expect("JSON");
        assert_eq!(body, json!({"client_id": client.id, "scope": "read write"}));
        assert_no_secret(&format!("{layer:?}"));
    }
    let stats = server.stats().await;
    assert_eq!(stats["token_requests"], 2);
    assert_eq!(stats["api_requests"], 2);
    assert_eq!(
        stats["auth_methods"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    // The last request was client_secret_post's: its form, less the secret.
    assert_eq!(
        stats["last_token_form"],
        json!({
            "grant_type": "client_credentials",
            "scope": "read write",
            "audience": "https://api.example/v1",
            "client_id": POST.id,
        })
    );
    assert_no_secret(&logs().text());
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_credentials_without_retries() {
    let server = AuthServer::start(&[BASIC, POST], 3600);
    for client in [BASIC, POST] {
        let wrong = Client {
            secret: "wrong-secret",
            ..client
        };
        let layer = layer(source(&server, &wrong));
        let service = layer.layer(http1_client());
        for _ in 0..3 {
            let error = get(&service, &server.url("/api/read")).await.unwrap_err();
            let error = auth_error(&error);
            assert!(
                matches!(error, Error::InvalidCredentials { .. }),
                "{}: {error}",
                client.auth_method
            );
            let text = error.to_string();
            assert!(
                text.contains("invalid_client")
                    && text.contains("check the OAuth2 client id and, for client_secret_")
                    && text.contains("the client secret")
            );
            assert!(!text.to_ascii_uppercase().contains("SYMBL"), "{text}");
            assert_no_secret(&format!("{text} {error:?}"));
        }
        // Permanent: one token request, its failure shared by the calls after it.
        assert_eq!(layer.stats().token_requests, 1);
    }
    let stats = server.stats().await;
    assert_eq!(
        (
            stats["token_requests"].clone(),
            stats["api_requests"].clone()
        ),
        (json!(2), json!(0))
    );
    assert_no_secret(&logs().text());
}

#[tokio::test]
async fn a_client_refused_the_grant_is_invalid_credentials() {
    let refused = Client {
        id: "no-grant-client",
        grant_allowed: false,
        ..BASIC
    };
    let server = AuthServer::start(std::slice::from_ref(&refused), 3600);
    let layer = layer(source(&server, &refused));
    let error = layer.access_token().await.expect_err("refused");
    assert!(matches!(error, Error::InvalidCredentials { .. }), "{error}");
    assert!(error.to_string().contains("unauthorized_client"), "{error}");
    assert_eq!(server.stats().await["token_requests"], 1);
}

#[tokio::test]
async fn the_server_grants_and_checks_the_scope_asked_for() {
    let server = AuthServer::start(&[BASIC], 3600);
    let read_write = layer(source(&server, &BASIC).scope("read write")).layer(http1_client());
    assert_eq!(
        get(&read_write, &server.url("/api/read"))
            .await
            .expect("call"),
        StatusCode::OK
    );
    // Not granted: a 403 is the API's answer, not a reason to refresh.
    assert_eq!(
        get(&read_write, &server.url("/api/admin"))
            .await
            .expect("call"),
        StatusCode::FORBIDDEN
    );
    // Asking for more than the client may have gets only what it may have.
    let asked_admin = layer(source(&server, &BASIC).scope("read admin"));
    let service = asked_admin.layer(http1_client());
    assert_eq!(
        get(&service, &server.url("/api/read")).await.expect("call"),
        StatusCode::OK
    );
    assert_eq!(
        get(&service, &server.url("/api/admin"))
            .await
            .expect("call"),
        StatusCode::FORBIDDEN
    );
    // A scope the server does not know is refused by name.
    let unknown = layer(source(&server, &BASIC).scope("read bogus")).layer(http1_client());
    let error = get(&unknown, &server.url("/api/read")).await.unwrap_err();
    let error = auth_error(&error);
    assert!(
        matches!(error, Error::TokenEndpointRejected { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("invalid_scope"), "{error}");

    let stats = server.stats().await;
    assert_eq!(stats["token_requests"], 3);
    assert_eq!(stats["api_requests"], 4);
    assert_eq!(stats["api_forbidden"], 2);
    assert_eq!(stats["api_unauthorized"], 0);
    assert_eq!(asked_admin.stats().retries, 0);
}

#[tokio::test]
async fn a_revoked_token_costs_one_refresh_and_one_retry() {
    let server = AuthServer::start(&[BASIC], 3600);
    let layer = layer(source(&server, &BASIC).scope("read"));
    let service = layer.layer(http1_client());
    assert_eq!(
        get(&service, &server.url("/api/read")).await.expect("call"),
        StatusCode::OK
    );

    let token = layer.access_token().await.expect("cached token");
    server.revoke(&BASIC, token.secret()).await;
    assert_eq!(
        get(&service, &server.url("/api/read")).await.expect("call"),
        StatusCode::OK
    );

    let stats = server.stats().await;
    assert_eq!(stats["revocations"], 1);
    assert_eq!(stats["token_requests"], 2);
    // First call, the call with the revoked token (401), its one retry.
    assert_eq!(stats["api_requests"], 3);
    assert_eq!(stats["api_unauthorized"], 1);
    assert_eq!(stats["distinct_api_tokens"], 2);
    let seen = layer.stats();
    assert_eq!((seen.token_requests, seen.retries), (2, 1));
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_before_any_request_sees_a_401() {
    // Three seconds: the layer refreshes from half the lifetime on.
    let server = AuthServer::start(&[BASIC], 3);
    let layer = layer(source(&server, &BASIC).scope("read"));
    let service = layer.layer(http1_client());
    let mut calls = 0;
    // A request every 100 ms until the server has issued the second token (bounded: 8 s).
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    while server.stats().await["tokens_issued"] != 2 {
        assert!(calls < 80, "no refresh within 8 s of a 3 s token");
        ticks.tick().await;
        assert_eq!(
            get(&service, &server.url("/api/read")).await.expect("call"),
            StatusCode::OK
        );
        calls += 1;
    }
    for _ in 0..3 {
        assert_eq!(
            get(&service, &server.url("/api/read")).await.expect("call"),
            StatusCode::OK
        );
    }
    let stats = server.stats().await;
    assert_eq!(stats["token_requests"], 2);
    assert_eq!(stats["api_unauthorized"], 0);
    assert_eq!(stats["api_requests"], calls + 3);
    assert_eq!(stats["distinct_api_tokens"], 2, "the new token is in use");
    let seen = layer.stats();
    assert_eq!((seen.refreshes, seen.retries), (1, 0));
}

#[tokio::test]
async fn a_token_without_expires_in_lives_the_default_lifetime() {
    let server = AuthServer::start(&[BASIC], 0);
    let layer = layer(
        source(&server, &BASIC)
            .scope("read")
            .default_lifetime(Duration::from_secs(120)),
    );
    let token = layer.access_token().await.expect("token");
    assert!(
        token.expires_in() <= Duration::from_secs(120)
            && token.expires_in() > Duration::from_secs(100),
        "{:?}",
        token.expires_in()
    );
    let service = layer.layer(http1_client());
    assert_eq!(
        get(&service, &server.url("/api/read")).await.expect("call"),
        StatusCode::OK
    );
    assert_eq!(server.stats().await["token_requests"], 1);
}
