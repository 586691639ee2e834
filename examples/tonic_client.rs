//! symbl-auth in front of a tonic `Channel`, used by a generated gRPC client.
//!
//! ```sh
//! cargo run --example tonic_client --features test-server
//! ```
//!
//! A `Channel` only accepts `tonic::body::Body`, while the layer hands its inner service a
//! `ReplayBody<B>` (so a request can be re-sent after `UNAUTHENTICATED`). The composition is
//! therefore: the layer outside, a one-line body mapping, the channel inside:
//!
//! ```text
//! SymblAuthLayer → map_request(|r| r.map(tonic::body::Body::new)) → Channel
//! ```
//!
//! A generated client sends requests with no authority in their URI (the channel adds its
//! origin), so the layer cannot check their host: it attaches the token to every such request,
//! whatever `allow_host` says, and the channel's origin is where the token goes. Put the layer
//! only in front of a channel to a host you mean to authenticate to with this token (here, a
//! loopback server that checks the fake Symbl's tokens). A trailers-only answer with
//! `grpc-status: 16` (UNAUTHENTICATED) is gRPC's 401: the layer refreshes the token and sends
//! the call once more.
//!
//! This example serves the standard gRPC health service on loopback, guarded by tokens from a
//! local Symbl-compatible server, calls it, revokes the token, and calls it again.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::Request;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{BoxError, ReplayBody, SymblAuth, SymblAuthLayer};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::util::MapRequest;
use tower::ServiceBuilder;

/// A channel behind the layer, as a generated client takes it.
pub type AuthenticatedChannel = SymblAuth<MapRequest<Channel, ToTonicBody>>;
/// The body mapping between the layer and the channel.
pub type ToTonicBody = fn(Request<ReplayBody<tonic::body::Body>>) -> Request<tonic::body::Body>;

/// Puts `layer` in front of `channel`: every call on it carries the layer's token to the
/// channel's origin.
pub fn authenticated(channel: Channel, layer: SymblAuthLayer) -> AuthenticatedChannel {
    let to_tonic_body: ToTonicBody = |request| request.map(tonic::body::Body::new);
    ServiceBuilder::new()
        .layer(layer)
        .map_request(to_tonic_body)
        .service(channel)
}

/// The gRPC health service, answering only calls that carry a current Symbl token.
#[derive(Clone, Debug)]
pub struct GuardedHealth {
    /// Whose tokens are current.
    pub symbl: FakeSymbl,
    /// Calls received, answered or not.
    pub calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Health for GuardedHealth {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        if !self.symbl.is_authorized(token.as_ref()) {
            return Err(tonic::Status::unauthenticated(
                "a current Symbl token is needed",
            ));
        }
        Ok(tonic::Response::new(HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        }))
    }

    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("watch is not needed here"))
    }
}

/// Serves `health` on a free loopback port until the task is dropped.
pub async fn serve(health: GuardedHealth) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        Server::builder()
            .add_service(HealthServer::new(health))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    Ok(addr)
}

async fn check(client: &mut HealthClient<AuthenticatedChannel>) -> Result<ServingStatus, BoxError> {
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let response = client.check(request).await?.into_inner();
    Ok(response.status())
}

async fn run() -> Result<(), BoxError> {
    let symbl = TestServer::start().await?;
    let health = GuardedHealth {
        symbl: symbl.symbl().clone(),
        calls: Arc::default(),
    };
    let addr = serve(health.clone()).await?;
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = HealthClient::new(authenticated(channel, symbl.layer()));

    let status = check(&mut client).await?;
    println!(
        "health check → {status:?} ({} token request)",
        symbl.symbl().token_requests()
    );

    symbl.symbl().revoke_tokens();
    let status = check(&mut client).await?;
    println!(
        "after revoking the token → {status:?} ({} calls, {} token requests: one UNAUTHENTICATED, one refresh, one retry)",
        health.calls.load(Ordering::SeqCst),
        symbl.symbl().token_requests()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tonic_client failed: {error}");
            ExitCode::FAILURE
        }
    }
}
