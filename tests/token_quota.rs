//! The token server's budget, visible (issue 23, item 5): Auth0's `Auth0-Client-Quota-Limit`,
//! the IETF `RateLimit` / `RateLimit-Policy` fields and `429`s, read from token responses into
//! `stats()`, with a `tracing` warning before the budget runs out. Over the built-in client.
#![cfg(all(builtin_client, not(tls_provider = "installed")))]

mod peers;
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use peers::{Reply, TokenEndpoint};
use support::Captured;
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::{Credentials, SymblAuthLayer};

fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(Captured::install)
}

#[tokio::test]
async fn auth0s_quota_shows_in_stats_and_warns_before_it_runs_out() {
    let log = captured();
    let auth0 =
        "Auth0-Client-Quota-Limit: b=per_hour;q=100;r=5;t=3600,b=per_day;q=1000;r=900;t=86400";
    let endpoint = TokenEndpoint::start(Reply::token("t1", 3600).header(auth0)).await;
    let source = ClientCredentials::new(endpoint.url("/token"), "client-a", "secret");
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .build()
        .expect("layer");
    assert_eq!(
        layer.stats().token_quota_remaining,
        None,
        "nothing said yet"
    );
    layer.access_token().await.expect("token");
    let stats = layer.stats();
    assert_eq!(stats.token_quota_remaining, Some(5), "the tightest bucket");
    assert_eq!(stats.token_quota_limit, Some(100));
    assert!(
        log.text().contains("nearly spent"),
        "a warning before it runs out: {}",
        log.text()
    );
}

#[tokio::test]
async fn the_ietf_ratelimit_fields_on_symbls_endpoint_show_in_stats() {
    let reply = Reply::json("200 OK", r#"{"accessToken":"t2","expiresIn":3600}"#)
        .header(r#"RateLimit: "default";r=50;t=30"#)
        .header(r#"RateLimit-Policy: "default";q=100;w=60"#);
    let endpoint = TokenEndpoint::start(reply).await;
    let layer = SymblAuthLayer::builder(Credentials::new("app", "secret"))
        .token_url(endpoint.url("/oauth2/token:generate"))
        .build()
        .expect("layer");
    layer.access_token().await.expect("token");
    let stats = layer.stats();
    assert_eq!(stats.token_quota_remaining, Some(50));
    assert_eq!(stats.token_quota_limit, Some(100));
}

#[tokio::test]
async fn a_429_leaves_no_budget() {
    let reply = Reply::json("429 Too Many Requests", "{}").header("Retry-After: 1");
    let endpoint = TokenEndpoint::start(reply).await;
    let source = ClientCredentials::new(endpoint.url("/token"), "client-b", "secret");
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .token_retry_budget(Duration::from_millis(500))
        .build()
        .expect("layer");
    layer.access_token().await.expect_err("throttled");
    assert_eq!(layer.stats().token_quota_remaining, Some(0));
}
