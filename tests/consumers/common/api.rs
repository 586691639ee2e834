//! The app's API calls: a hyper-util client (plain http to the endpoint on loopback) behind the
//! layer. The same client type can carry token requests too (`ReplayBody<Full<Bytes>>` is made
//! from `Full<Bytes>`).

use std::future::poll_fn;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::{ReplayBody, SymblAuth};
use tower_service::Service;

use crate::endpoint::Failure;

pub type ApiClient = Client<HttpConnector, ReplayBody<Full<Bytes>>>;

pub fn api_client() -> ApiClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `GET {base}/v1/conversations` through the layer: the status it ends with.
pub async fn get_conversations(
    service: &mut SymblAuth<ApiClient>,
    base: &str,
) -> Result<StatusCode, Failure> {
    let request = Request::get(format!("{base}/v1/conversations")).body(Full::new(Bytes::new()))?;
    poll_fn(|cx| service.poll_ready(cx)).await?;
    Ok(service.call(request).await?.status())
}
