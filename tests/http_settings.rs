//! The token request goes through the user's HTTP settings (`http_client`), for both built-in
//! sources: a forward proxy, a root certificate, and the settings the crate forces over them
//! (no redirects, each layer's own timeout).
// Over the built-in client, which under rustls-no-provider alone needs a provider the app
// installs: tests/installed_provider.rs covers that build.
#![cfg(all(builtin_client, not(tls_provider = "installed")))]

mod peers;

use std::time::Duration;

use peers::{ForwardProxy, Reply, TokenEndpoint};
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::{reqwest, Credentials, Error, SymblAuthLayer, SymblAuthLayerBuilder, TokenSource};

const SECRET: &str = "client-secret-value";

/// What the TLS stack says of a certificate from an issuer it does not know.
const UNKNOWN_ISSUER: &str = if cfg!(tls_rustls) {
    "UnknownIssuer"
} else {
    "certificate verify failed" // OpenSSL, through native-tls
};

fn symbl_reply() -> Reply {
    Reply::json(
        "200 OK",
        r#"{"accessToken":"symbl-token","expiresIn":3600}"#,
    )
}

/// A token URL off the machine (so that a proxy may carry it) that the test proxy sends on to
/// `port` on loopback. Plain http to it needs the opt-in.
fn remote(port: u16, path: &str) -> String {
    format!("http://token.invalid:{port}{path}")
}

fn oauth2_builder(source: ClientCredentials) -> symbl_auth::SymblAuthLayerBuilder {
    SymblAuthLayer::from_source(source).allow_host("api.example.com")
}

fn oauth2_layer(source: ClientCredentials) -> SymblAuthLayer {
    SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .token_retry_budget(Duration::from_millis(200))
        .build()
        .expect("layer")
}

#[tokio::test]
async fn the_token_request_goes_through_the_proxy_given_to_http_client() {
    let proxy = ForwardProxy::start().await;
    let oauth2 = TokenEndpoint::start(Reply::token("oauth2-token", 3600)).await;
    let symbl = TokenEndpoint::start(symbl_reply()).await;
    let through = reqwest::Proxy::http(proxy.url()).expect("proxy");

    let settings = through.clone();
    let source = ClientCredentials::new(remote(oauth2.port, "/token"), "client", SECRET)
        .allow_insecure_http(true)
        .http_client(move |client| client.proxy(settings.clone()));
    let token = oauth2_layer(source).access_token().await.expect("token");
    assert_eq!(token.secret(), "oauth2-token");

    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(remote(symbl.port, "/oauth2/token:generate"))
        .allow_insecure_http(true)
        .http_client(move |client| client.proxy(through.clone()))
        .build()
        .expect("layer");
    assert_eq!(
        layer.access_token().await.expect("token").secret(),
        "symbl-token"
    );

    assert_eq!(
        proxy.seen(),
        [
            format!("POST {} HTTP/1.1", remote(oauth2.port, "/token")),
            format!(
                "POST {} HTTP/1.1",
                remote(symbl.port, "/oauth2/token:generate")
            ),
        ]
    );
    assert_eq!((oauth2.requests(), symbl.requests()), (1, 1));
}

// Under `rustls-ring` (alone) reqwest takes the crate's ring config whole and cannot apply its
// own TLS settings (roots, versions): documented on `http_client`, with `token_client` and
// `SSL_CERT_FILE` as the ways in. The tests that add roots through reqwest run elsewhere.
#[cfg(not(tls_provider = "ring"))]
#[tokio::test]
async fn an_https_endpoint_is_reached_through_a_proxy_tunnel() {
    let (acceptor, root) = peers::self_signed();
    let root = reqwest::Certificate::from_der(&root).expect("root");
    let endpoint = TokenEndpoint::start_tls(Reply::token("tunnelled", 3600), acceptor).await;
    let proxy = ForwardProxy::start().await;
    let through = reqwest::Proxy::https(proxy.url()).expect("proxy");
    // `token.test` resolves nowhere: only the proxy knows where it is.
    let url = format!("https://token.test:{}/token", endpoint.port);
    let source = ClientCredentials::new(url, "client", SECRET).http_client(move |client| {
        client
            .proxy(through.clone())
            .tls_certs_merge([root.clone()])
    });
    let token = oauth2_layer(source).access_token().await.expect("token");
    assert_eq!(token.secret(), "tunnelled");
    assert_eq!(
        proxy.seen(),
        [format!("CONNECT token.test:{} HTTP/1.1", endpoint.port)]
    );
    assert_eq!(endpoint.requests(), 1);
}

#[tokio::test]
async fn a_self_signed_endpoint_is_trusted_only_with_its_root_added() {
    let (acceptor, root) = peers::self_signed();
    let root = reqwest::Certificate::from_der(&root).expect("root");
    let oauth2 = TokenEndpoint::start_tls(Reply::token("tls-token", 3600), acceptor.clone()).await;
    let symbl = TokenEndpoint::start_tls(symbl_reply(), acceptor).await;
    let oauth2_url = format!("https://127.0.0.1:{}/token", oauth2.port);
    let symbl_url = format!("https://127.0.0.1:{}/oauth2/token:generate", symbl.port);

    // Without the root: the handshake fails, no request is made, and the error names the
    // certificate problem. It is permanent: a layer makes one attempt, not one per backoff
    // step until the budget runs out.
    let untrusted = ClientCredentials::new(&oauth2_url, "client", SECRET);
    let err = untrusted.fetch_token().await.expect_err("untrusted");
    assert!(matches!(err, Error::TokenEndpointUntrusted { .. }), "{err}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains(UNKNOWN_ISSUER), "{err}");
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(&symbl_url)
        .build()
        .expect("layer");
    let started = tokio::time::Instant::now();
    let err = layer.access_token().await.expect_err("untrusted");
    assert!(matches!(err, Error::TokenEndpointUntrusted { .. }), "{err}");
    assert_eq!(layer.stats().token_requests, 1, "not retried");
    assert!(started.elapsed() < Duration::from_secs(5), "no backoff");
    assert_eq!((oauth2.requests(), symbl.requests()), (0, 0));
    #[cfg(not(tls_provider = "ring"))]
    with_the_root_added(root, &oauth2_url, &symbl_url, &oauth2, &symbl).await;
    #[cfg(tls_provider = "ring")]
    let _ = root;
}

/// The second half of the test above: with the root added through the hook, accepted.
#[cfg(not(tls_provider = "ring"))]
async fn with_the_root_added(
    root: reqwest::Certificate,
    oauth2_url: &str,
    symbl_url: &str,
    oauth2: &TokenEndpoint,
    symbl: &TokenEndpoint,
) {
    let added = root.clone();
    let trusted = ClientCredentials::new(oauth2_url, "client", SECRET)
        .http_client(move |client| client.tls_certs_merge([added.clone()]));
    let token = oauth2_layer(trusted).access_token().await.expect("token");
    assert_eq!(token.secret(), "tls-token");
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(symbl_url)
        .http_client(move |client| client.tls_certs_only([root.clone()]))
        .build()
        .expect("layer");
    assert_eq!(
        layer.access_token().await.expect("token").secret(),
        "symbl-token"
    );
    assert_eq!((oauth2.requests(), symbl.requests()), (1, 1));
}

#[tokio::test]
async fn no_redirect_is_followed_whatever_the_settings_say() {
    let elsewhere = TokenEndpoint::start(Reply::token("stolen", 3600)).await;
    let moved = Reply::json("307 Temporary Redirect", "")
        .header(format!("location: {}", elsewhere.url("/token")));
    let oauth2 = TokenEndpoint::start(moved.clone()).await;
    let symbl = TokenEndpoint::start(moved).await;
    let follow =
        |client: reqwest::ClientBuilder| client.redirect(reqwest::redirect::Policy::limited(10));

    let source = ClientCredentials::new(oauth2.url("/token"), "client", SECRET).http_client(follow);
    let err = source.fetch_token().await.expect_err("not followed");
    assert!(
        matches!(err, Error::TokenEndpointRejected { status, .. } if status == 307),
        "{err}"
    );
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(symbl.url("/oauth2/token:generate"))
        .http_client(follow)
        .build()
        .expect("layer");
    let err = layer.access_token().await.expect_err("not followed");
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");

    assert_eq!((oauth2.requests(), symbl.requests()), (1, 1));
    assert_eq!(elsewhere.requests(), 0, "the secret followed a redirect");
}

#[tokio::test(start_paused = true)]
async fn each_layer_bounds_its_own_attempts_whoever_shares_the_source() {
    let silent = peers::SilentPeer::start().await;
    let url = silent.url("/token");
    // One source, its clones in two layers with different limits, and itself used alone.
    // Each attempt ends at the limit of whoever made it: not the first layer's, not the
    // settings' own (an hour), and not the 10 s a source used alone has (the second layer's is
    // longer).
    let source = ClientCredentials::new(url, "client", SECRET)
        .http_client(|client| client.timeout(Duration::from_secs(3600)));
    let layer = |limit: Duration| {
        SymblAuthLayer::from_source(source.clone())
            .allow_host("api.example.com")
            .token_request_timeout(limit)
            .token_retry_budget(limit)
            .build()
            .expect("layer")
    };
    let (short, long) = (Duration::from_millis(300), Duration::from_secs(15));
    let (first, second) = (layer(short), layer(long));
    for (layer, limit) in [(&second, long), (&first, short), (&second, long)] {
        let started = tokio::time::Instant::now();
        let before = layer.stats().token_requests;
        let err = layer.access_token().await.expect_err("no answer");
        assert_eq!(started.elapsed(), limit, "{err}");
        assert_eq!(
            layer.stats().token_requests,
            before + 1,
            "one attempt: {err}"
        );
        assert!(
            err.to_string().contains(&format!("{limit:?}")),
            "the layer's own limit ended it: {err}"
        );
        tokio::time::sleep(Duration::from_secs(60)).await; // past the failure cool-down
    }
    let started = tokio::time::Instant::now();
    let err = source.fetch_token().await.expect_err("no answer");
    assert_eq!(
        started.elapsed(),
        SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT,
        "{err}"
    );
    assert!(err.to_string().contains("10s"), "{err}");
}

// rustls refuses contradictory versions when the config is built; OpenSSL (native-tls) takes
// them, and fails at the handshake.
// OpenSSL takes contradictory versions at build and fails at the handshake; under ring
// reqwest does not read them (see above).
#[cfg(all(tls_rustls, not(tls_provider = "ring")))]
#[tokio::test]
async fn build_reports_settings_that_cannot_make_a_client() {
    let broken = |client: reqwest::ClientBuilder| {
        client
            .tls_version_min(reqwest::tls::Version::TLS_1_3)
            .tls_version_max(reqwest::tls::Version::TLS_1_2)
    };
    let err = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .http_client(broken)
        .build()
        .expect_err("broken settings");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    let source = ClientCredentials::new("https://auth.example.com/token", "client", SECRET)
        .http_client(broken);
    let err = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .build()
        .expect_err("broken settings");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");

    // A source brings its own settings: the builder's are refused, not silently ignored.
    let source = ClientCredentials::new("https://auth.example.com/token", "client", SECRET);
    let err = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .http_client(|client| client)
        .build()
        .expect_err("settings on the wrong side");
    assert!(
        err.to_string().contains("ClientCredentials::http_client"),
        "{err}"
    );

    // The source's own settings are checked by build too.
    let source = ClientCredentials::new("http://auth.example.com/token", "client", SECRET);
    let err = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .build()
        .expect_err("plain http to a remote host");
    assert!(matches!(err, Error::InsecureTransport { .. }), "{err}");
}

#[test]
fn settings_that_refuse_the_token_url_fail_at_build_inside_a_runtime_or_not() {
    let endpoint_port = {
        // A port that answers nothing: the check must not send anything anyway.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{endpoint_port}/token");
    let check = || {
        let err = SymblAuthLayer::builder(Credentials::new("app", SECRET))
            .token_url(&url)
            .http_client(|client| client.https_only(true))
            .build()
            .expect_err("https_only with an http token URL");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        assert!(err.to_string().contains("https_only"), "{err}");
        let source = ClientCredentials::new(&url, "client", SECRET)
            .http_client(|client| client.https_only(true));
        let err = oauth2_builder(source)
            .build()
            .expect_err("the same for a source");
        assert!(err.to_string().contains("https_only"), "{err}");
        // Settings that do not refuse it build.
        SymblAuthLayer::builder(Credentials::new("app", SECRET))
            .token_url(&url)
            .http_client(|client| client.https_only(false))
            .build()
            .expect("layer");
    };
    check();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async { check() });
}

#[test]
fn build_never_panics_whatever_timeouts_http_client_sets() {
    type Setting = fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder;
    const LIMIT: Duration = Duration::from_secs(5);
    let settings: [(&str, Setting); 3] = [
        ("timeout", |client| client.timeout(LIMIT)),
        ("read_timeout", |client| client.read_timeout(LIMIT)),
        ("connect_timeout", |client| client.connect_timeout(LIMIT)),
    ];
    let all: Setting = |client| {
        client
            .timeout(LIMIT)
            .read_timeout(LIMIT)
            .connect_timeout(LIMIT)
    };
    // Plain http on loopback: the URL the settings check looks at. (Few builds: each reads
    // the CA store under native-tls.)
    let url = "http://127.0.0.1:9/oauth2/token:generate";
    let check = |context: &str| {
        for (name, setting) in settings {
            SymblAuthLayer::builder(Credentials::new("app", SECRET))
                .token_url(url)
                .http_client(setting)
                .build()
                .unwrap_or_else(|err| panic!("{name}, {context}: {err}"));
        }
        let source = ClientCredentials::new(url, "client", SECRET).http_client(all);
        oauth2_builder(source)
            .build()
            .unwrap_or_else(|err| panic!("an OAuth2 source, {context}: {err}"));
        // A refusal is still reported, with the timeouts set.
        let err = SymblAuthLayer::builder(Credentials::new("app", SECRET))
            .token_url(url)
            .http_client(move |client| all(client).https_only(true))
            .build()
            .expect_err("https_only with an http token URL");
        assert!(err.to_string().contains("https_only"), "{context}: {err}");
    };
    check("outside a runtime");
    let runtime = |timers: bool| {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        if timers {
            builder.enable_time();
        }
        builder.enable_io().build().expect("runtime")
    };
    runtime(true).block_on(async { check("in a runtime") });
    runtime(false).block_on(async { check("in a runtime without timers") });
}

#[tokio::test]
async fn the_settings_check_opens_no_connection() {
    // A listener nobody accepts from: a connection the check opened would wait in its queue
    // (on loopback the handshake completes in the kernel, whatever the client does next).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/token", listener.local_addr().expect("addr"));
    let source = ClientCredentials::new(url, "client", SECRET)
        .http_client(|client| client.https_only(false));
    oauth2_builder(source).build().expect("layer");
    tokio::task::yield_now().await;
    let queued = listener.accept();
    assert!(
        matches!(&queued, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "the check connected: {queued:?}"
    );
}
