//! The request a keyed layer sends again after a 401 carries the request's extensions, the
//! `CredentialKey` included, whether the key was alone in them or not.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use symbl_auth::{
    AccessToken, CredentialKey, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource,
};
use tower::{service_fn, Layer, ServiceExt};

/// Grants `<key>-1`, `<key>-2`, …
#[derive(Debug)]
struct Numbered(String, AtomicU32);

impl TokenSource for Numbered {
    fn fetch_token(&self) -> TokenFuture<'_> {
        let n = self.1.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("{}-{n}", self.0);
        Box::pin(async move { AccessToken::new(&token, Duration::from_secs(3600)) })
    }
}

#[derive(Clone, Debug, PartialEq)]
struct TraceId(u64);

#[tokio::test]
async fn the_resend_after_a_401_carries_the_key_and_every_other_extension() {
    let layer = SymblAuthLayer::keyed(|key: &CredentialKey| {
        Numbered(key.as_str().to_owned(), AtomicU32::new(0))
    })
    .allow_host("api.example.com")
    .build()
    .expect("layer");
    // Each send: (its token, the key in its extensions, the trace id in them).
    type Seen = (String, Option<String>, Option<TraceId>);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let api = {
        let seen = Arc::clone(&seen);
        service_fn(move |request: Request<ReplayBody<String>>| {
            let token = request.headers()["authorization"]
                .to_str()
                .unwrap()
                .to_owned();
            let key = request.extensions().get::<CredentialKey>();
            let trace = request.extensions().get::<TraceId>().cloned();
            seen.lock()
                .unwrap()
                .push((token.clone(), key.map(|k| k.as_str().into()), trace));
            // The first token of every key is refused.
            let status = if token.ends_with("-1") {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            let mut response = Response::new(());
            *response.status_mut() = status;
            async move { Ok::<_, Infallible>(response) }
        })
    };
    let service = layer.layer(api);
    for (tenant, trace) in [("alone", None), ("with-trace", Some(TraceId(7)))] {
        // No body: the inner service need not read one for the layer to send it again.
        let mut request = Request::get("https://api.example.com/v1/items")
            .body(String::new())
            .unwrap();
        request.extensions_mut().insert(CredentialKey::new(tenant));
        if let Some(trace) = trace.clone() {
            request.extensions_mut().insert(trace);
        }
        let response = service.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "{tenant}");
        let seen = seen.lock().unwrap();
        let sends: Vec<_> = seen
            .iter()
            .filter(|(token, ..)| token.contains(tenant))
            .collect();
        let expected = |n: u32| {
            (
                format!("Bearer {tenant}-{n}"),
                Some(tenant.to_owned()),
                trace.clone(),
            )
        };
        assert_eq!(
            sends,
            [&expected(1), &expected(2)],
            "{tenant}: the resend is the request"
        );
    }
}
