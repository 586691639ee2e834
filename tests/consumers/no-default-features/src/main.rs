//! An app on `symbl-auth = { default-features = false }`: its own hyper-util client carries the
//! token requests (`token_client`) and the API calls, one client for both. Without it, `build`
//! says what to do. Exits non-zero on failure.

#[path = "../../common/api.rs"]
mod api;
#[path = "../../common/endpoint.rs"]
mod endpoint;

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use endpoint::{check, Failure, Served, APP_ID, APP_SECRET};
use http::{Request, StatusCode};
use symbl_auth::{Credentials, Error, SymblAuthLayer};
use tower_layer::Layer;
use tower_service::Service;

/// The app's client, counting the requests it is given.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S: Service<Request<B>>, B> Service<Request<B>> for Counted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> S::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(request)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let served = Arc::new(Served::default());
    endpoint::serve_plain(listener, Arc::clone(&served));
    let token_url = format!("{base}/oauth2/token:generate");
    let credentials = Credentials::new(APP_ID, APP_SECRET);

    let err = SymblAuthLayer::builder(credentials.clone())
        .token_url(&token_url)
        .build()
        .expect_err("a layer without any HTTP client");
    check(
        matches!(err, Error::InvalidConfig { .. }) && err.to_string().contains("token_client"),
        format!("without a client, build asks for token_client: {err}"),
    )?;

    let client = api::api_client();
    let token_requests = Arc::new(AtomicUsize::new(0));
    let layer = SymblAuthLayer::builder(credentials)
        .token_url(&token_url)
        .token_client(Counted {
            inner: client.clone(),
            calls: Arc::clone(&token_requests),
        })
        .build()?;
    let mut symbl = layer.layer(client);
    for _ in 0..2 {
        let status = api::get_conversations(&mut symbl, &base).await?;
        check(status == StatusCode::OK, format!("an API call: {status}"))?;
    }
    check(
        token_requests.load(Ordering::SeqCst) == 1 && served.tokens() == 1,
        format!(
            "the app's client carried the one token request (it carried {}, the server served {})",
            token_requests.load(Ordering::SeqCst),
            served.tokens()
        ),
    )?;
    check(
        served.api_ok() == 2 && served.api_unauthorized() == 0,
        format!("both API calls carried the token: {served:?}"),
    )?;
    Ok(())
}
