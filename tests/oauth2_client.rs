//! `oauth2::ClientCredentials` against hand-written endpoints on loopback, for the answers a
//! conforming server does not give on demand: throttling, outages, oversized or odd bodies,
//! error bodies that echo the secret, and every quirk of a token answer the README's table
//! lists (the one place each is checked end to end for OAuth2; Symbl's are in
//! `fault_matrix.rs`). Over the built-in client.
// Over the built-in client, which under rustls-no-provider alone needs a provider the app
// installs: tests/installed_provider.rs covers that build.
#![cfg(all(builtin_client, not(tls_provider = "installed")))]

mod peers;

use std::time::Duration;

use peers::{Reply, TokenEndpoint};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::{Error, SymblAuthLayer, TokenSource, MAX_LIFETIME, MAX_RESPONSE_BYTES};

const SECRET: &str = "the-client-secret";

async fn fetch(reply: Reply) -> Result<symbl_auth::AccessToken, Error> {
    let endpoint = TokenEndpoint::start(reply).await;
    let source = ClientCredentials::new(endpoint.url("/token"), "client", SECRET)
        .auth_method(AuthMethod::ClientSecretPost);
    let result = source.fetch_token().await;
    assert_eq!(endpoint.requests(), 1, "one attempt per fetch");
    if let Err(err) = &result {
        let text = format!("{err} {err:?} {:?}", std::error::Error::source(err));
        assert!(!text.contains(SECRET), "{text}");
    }
    result
}

#[tokio::test]
async fn throttling_and_outages_are_retryable_and_honour_retry_after() {
    for status in [
        "429 Too Many Requests",
        "503 Service Unavailable",
        "500 Internal Server Error",
    ] {
        let reply = Reply::json(status, r#"{"error":"invalid_client"}"#).header("retry-after: 7");
        let err = fetch(reply).await.expect_err(status);
        assert!(err.is_retryable(), "{status}: {err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{status}");
    }
}

#[tokio::test]
async fn odd_answers_are_clear_errors() {
    let err = fetch(Reply::json(
        "200 OK",
        r#"{"access_token":"t","token_type":"mac"}"#,
    ))
    .await
    .expect_err("not Bearer");
    assert!(matches!(err, Error::BadTokenResponse { .. }), "{err}");
    let huge = format!(
        r#"{{"access_token":"t","token_type":"Bearer","pad":"{}"}}"#,
        "x".repeat(MAX_RESPONSE_BYTES)
    );
    let err = fetch(Reply::json("200 OK", huge))
        .await
        .expect_err("too large");
    assert!(err.to_string().contains("larger than"), "{err}");
    let err = fetch(Reply::json("404 Not Found", "<html>nothing here</html>"))
        .await
        .expect_err("wrong URL");
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
}

#[tokio::test]
async fn an_error_body_that_echoes_the_secret_is_not_passed_on() {
    let echo = format!(r#"{{"error":"invalid_client","error_description":"bad secret {SECRET}"}}"#);
    let err = fetch(Reply::json("401 Unauthorized", echo))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::InvalidCredentials { .. }), "{err}");
    let err = fetch(Reply::json(
        "400 Bad Request",
        format!(r#"{{"error":"{SECRET}"}}"#),
    ))
    .await
    .expect_err("refused");
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
}

#[tokio::test]
async fn a_200_with_expires_in_as_a_string_is_read() {
    let reply = Reply::json(
        "200 OK",
        r#"{"access_token":"t","token_type":"bearer","expires_in":"300"}"#,
    );
    let token = fetch(reply).await.expect("token");
    assert_eq!(token.expires_in(), Duration::from_secs(300));
}

/// What a server may put in a `200`, and the lifetime the token is then used for.
const GRANTED: [(&str, u64); 12] = [
    // No `token_type` (Bearer), no `expires_in` (the default lifetime, an hour).
    (r#"{"access_token":"t"}"#, 3600),
    (
        r#"{"access_token":"t","token_type":null,"expires_in":null}"#,
        3600,
    ),
    (
        r#"{"access_token":"t","token_type":"bearer","expires_in":0}"#,
        3600,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":"0"}"#,
        3600,
    ),
    (
        "\u{feff}{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"expires_in\":60}",
        60,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":"3600.0"}"#,
        3600,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":" 3600 "}"#,
        3600,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":59.5e1}"#,
        595,
    ),
    // Over a year: clamped to it.
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":31536001}"#,
        31_536_000,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":2147483647}"#,
        31_536_000,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":1e12}"#,
        31_536_000,
    ),
    (
        r#"{"access_token":"t","token_type":"Bearer","expires_in":1e300}"#,
        31_536_000,
    ),
];

/// What is refused in a `200`, and the words the error says.
const REFUSED: [(&str, &str); 10] = [
    (
        r#"{"access_token":"t","token_type":"mac"}"#,
        "token_type is neither Bearer nor DPoP",
    ),
    (
        // A DPoP token for a source without a DPoP key.
        r#"{"access_token":"t","token_type":"DPoP"}"#,
        "no DPoP key is configured",
    ),
    (
        r#"{"access_token":"t","expires_in":-5}"#,
        "expires_in is negative",
    ),
    (
        r#"{"access_token":"t","expires_in":"-5"}"#,
        "expires_in is negative",
    ),
    (
        r#"{"access_token":"t","expires_in":"soon"}"#,
        "expires_in is not a number",
    ),
    (
        r#"{"access_token":"t","expires_in":"NaN"}"#,
        "expires_in is not a number",
    ),
    (
        r#"{"access_token":"t","expires_in":"1e999"}"#,
        "expires_in is not a number",
    ),
    (
        r#"{"access_token":"t","expires_in":true}"#,
        "expires_in is not a number",
    ),
    (
        r#"{"access_token":"t","expires_in":{}}"#,
        "expires_in is not a number",
    ),
    (
        r#"{"token_type":"Bearer","expires_in":60}"#,
        "access_token is missing",
    ),
];

#[tokio::test]
async fn any_token_a_server_grants_is_used_and_garbage_is_refused() {
    assert_eq!(MAX_LIFETIME, Duration::from_secs(31_536_000));
    for (body, seconds) in GRANTED {
        let token = fetch(Reply::json("200 OK", body)).await.expect(body);
        assert_eq!(token.expires_in(), Duration::from_secs(seconds), "{body}");
    }
    for (body, says) in REFUSED {
        let err = fetch(Reply::json("200 OK", body)).await.expect_err(body);
        assert!(
            matches!(err, Error::BadTokenResponse { .. }),
            "{body}: {err}"
        );
        assert!(err.to_string().contains(says), "{body}: {err}");
        assert!(!err.to_string().contains("soon"), "quotes the body: {err}");
    }
}

/// A layer over a source whose endpoint answers every request with `reply`, with a 1 s budget:
/// the fetch's error, and how many token requests it made.
async fn layer_fetch(reply: Reply) -> (Error, usize) {
    let endpoint = TokenEndpoint::start(reply).await;
    let source = ClientCredentials::new(endpoint.url("/token"), "client", SECRET);
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .token_retry_budget(Duration::from_secs(1))
        .build()
        .expect("layer");
    let err = layer.access_token().await.expect_err("no token");
    (err, endpoint.requests())
}

#[tokio::test]
async fn an_error_object_in_a_200_is_read_like_the_same_error_under_a_400() {
    let (err, requests) = layer_fetch(Reply::json("200 OK", r#"{"error":"invalid_client"}"#)).await;
    assert!(matches!(err, Error::InvalidCredentials { .. }), "{err}");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert_eq!(requests, 1, "permanent: not retried");

    // Retried within the budget, as under a 400.
    let busy = r#"{"error":"temporarily_unavailable","error_description":"SECRET"}"#;
    let (err, requests) = layer_fetch(Reply::json("200 OK", busy)).await;
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("temporarily_unavailable"), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(requests >= 2, "retried: {requests} requests");
}
