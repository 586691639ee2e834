//! No secret or token in any `Debug`, `Display`, error or `tracing` event (at TRACE, from this
//! crate and hyper alike). Its own test binary: the subscriber is process-wide.
#![cfg(feature = "test-server")]

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use symbl_auth::test_server::{TestServer, TEST_APP_SECRET};
use symbl_auth::{Credentials, SymblAuthLayer};
use tower::Layer;

use support::*;

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_or_token_in_any_text() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    // A fetch, a revocation with its refresh and retry, and a failing fetch.
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    server.symbl().revoke_tokens();
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    let bad = SymblAuthLayer::builder(Credentials::new("test-app-id", "wrong-secret-value"))
        .token_url(server.token_url())
        .build()
        .expect("layer")
        .layer(http1_client());
    let error = status_of(&bad, get(&url))
        .await
        .expect_err("bad credentials");

    let texts = [
        format!("{layer:?}"),
        format!("{service:?}"),
        format!("{:?}", server.layer_builder()),
        format!("{:?}", Credentials::new("id", TEST_APP_SECRET)),
        format!("{error} {error:?}"),
        String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8"),
    ];
    let logs = &texts[5];
    assert!(
        logs.contains("access token granted"),
        "the events are captured: {logs}"
    );
    assert!(logs.contains("rejected with 401"), "{logs}");
    for text in &texts {
        assert!(!text.contains(TEST_APP_SECRET), "secret in: {text}");
        assert!(!text.contains("wrong-secret-value"), "secret in: {text}");
        assert!(!text.contains("fake-token"), "token in: {text}");
    }
}
