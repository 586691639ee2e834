//! What a DPoP proof per request costs (RFC 9449 §7.1: a new signed JWT for every API
//! request), per key type: the signature alone (rustls' signer, the floor), a whole proof
//! (`PrivateKey::dpop_proof` with `ath`: header, claims, random `jti`, SHA-256 of the token,
//! base64url, the signature), a request through the layer with a DPoP-bound token (the proof
//! with the `ath` and header made once per token, the nonce lookup, the headers), and the
//! layer's Bearer hot path for scale, in the same run.
//!
//! `cargo bench --bench dpop`. Figures: BENCHMARKS.md ("DPoP proofs").

#![allow(missing_docs, reason = "criterion_group! defines an undocumented fn")]

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::PrivateKeyDer;
use rustls::SignatureScheme;
use symbl_auth::oauth2::{ClientCredentials, PrivateKey};
use symbl_auth::SymblAuthLayer;
use tower::Layer;

use common::{empty_post, send_now, symbl_layer, Noop};

const KEYS: [(&str, &str, SignatureScheme); 3] = [
    (
        "ES256",
        include_str!("../tests/keys/es256.pem"),
        SignatureScheme::ECDSA_NISTP256_SHA256,
    ),
    (
        "EdDSA",
        include_str!("../tests/keys/eddsa.pem"),
        SignatureScheme::ED25519,
    ),
    (
        "RS256",
        include_str!("../tests/keys/rs256.pem"),
        SignatureScheme::RSA_PKCS1_SHA256,
    ),
];

/// A proof's signing input is about this long (header with a P-256 JWK, claims with `ath`).
const INPUT: [u8; 420] = [b'a'; 420];

/// A layer whose tokens are bound to `key`: an OAuth2 source with `dpop`, its token fetched
/// (once) from a token endpoint on loopback that grants DPoP tokens.
fn dpop_layer(runtime: &tokio::runtime::Runtime, key: PrivateKey) -> SymblAuthLayer {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}/token", listener.local_addr().expect("address"));
    let answer = serde_json::json!({
        "access_token": common::token(),
        "token_type": "DPoP",
        "expires_in": 86_400,
    });
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let answer = answer.to_string();
            async move { ([("content-type", "application/json")], answer) }
        }),
    );
    runtime.spawn(async move { axum::serve(listener, app).await });
    let source = ClientCredentials::new(url, "bench", "secret").dpop(key);
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer");
    let token = runtime.block_on(layer.access_token()).expect("token");
    assert_eq!(token.token_type(), "DPoP");
    layer
}

fn dpop(c: &mut Criterion) {
    let token = common::token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let url = "https://api.symbl.ai/v1/process/text";
    for (alg, pem, scheme) in KEYS {
        let mut group = c.benchmark_group(format!("dpop/{alg}"));
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("PEM");
        let signer = any_supported_type(&der)
            .expect("key")
            .choose_scheme(&[scheme])
            .expect("scheme");
        group.bench_function("signature_alone", |b| {
            b.iter(|| signer.sign(std::hint::black_box(&INPUT)).expect("sign"))
        });
        let key = PrivateKey::from_pem(pem).expect("key");
        assert_eq!(key.algorithm(), alg);
        group.bench_function("dpop_proof", |b| {
            b.iter(|| {
                key.dpop_proof("POST", url, Some(&token), None)
                    .expect("proof")
            })
        });
        let mut bound = dpop_layer(&runtime, key).layer(Noop);
        group.bench_function("through_layer", |b| {
            b.iter_batched(
                empty_post,
                |r| send_now(&mut bound, r),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
    let mut symbl = symbl_layer().layer(Noop);
    runtime.block_on(async {
        use tower::ServiceExt;
        let response = symbl.clone().oneshot(empty_post()).await.expect("ok");
        assert_eq!(response.status(), http::StatusCode::OK);
    });
    c.bench_function("dpop/bearer_hot_path", |b| {
        b.iter_batched(
            empty_post,
            |r| send_now(&mut symbl, r),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, dpop);
criterion_main!(benches);
