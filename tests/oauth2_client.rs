//! `oauth2::ClientCredentials` against hand-written endpoints on loopback, for the answers a
//! conforming server does not give on demand: throttling, outages, oversized or odd bodies,
//! and error bodies that echo the secret.

mod peers;

use std::time::Duration;

use peers::{Reply, TokenEndpoint};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::{Error, TokenSource, MAX_RESPONSE_BYTES};

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
