use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::*;
use crate::{AccessToken, Error, MAX_LIFETIME};
use http::header;

/// A Bearer answer read for a client_secret_basic client.
fn token(headers: &HeaderMap, body: &[u8], lifetime: Duration) -> Result<AccessToken, Error> {
    answer::token(headers, body, lifetime, answer::Asked::default())
}

/// A secret with every character §2.3.1's encoding must handle.
const AWKWARD_SECRET: &str = "s3:cr+et/100% sure";

fn built(source: &ClientCredentials) -> http::Request<bytes::Bytes> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(source.request(source.token_url()))
        .expect("request")
}

fn body_of(request: &http::Request<bytes::Bytes>) -> String {
    String::from_utf8(request.body().to_vec()).expect("utf-8")
}

/// Base64 of `user:pass`, written out so the test does not share the code under test.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn basic_auth_form_urlencodes_id_and_secret_before_base64() {
    let source = ClientCredentials::new(
        "https://auth.example/token",
        "id:with space",
        AWKWARD_SECRET,
    );
    let request = built(&source);
    let header = request.headers()[header::AUTHORIZATION].clone();
    assert!(header.is_sensitive());
    let expected = format!(
        "Basic {}",
        base64(b"id%3Awith%20space:s3%3Acr%2Bet%2F100%25%20sure")
    );
    assert_eq!(header.to_str().expect("ascii"), expected);
    assert_eq!(body_of(&request), "grant_type=client_credentials");
    assert!(!body_of(&request).contains("s3"));
}

#[test]
fn post_auth_puts_id_and_secret_in_the_form() {
    let source = ClientCredentials::new("https://auth.example/token", "client", AWKWARD_SECRET)
        .auth_method(AuthMethod::ClientSecretPost)
        .scope("read write")
        .param("audience", "https://api.example/v1");
    let request = built(&source);
    assert!(request.headers().get(header::AUTHORIZATION).is_none());
    assert_eq!(
        request.headers()[header::CONTENT_TYPE],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        body_of(&request),
        "grant_type=client_credentials&scope=read%20write\
         &audience=https%3A%2F%2Fapi.example%2Fv1\
         &client_id=client&client_secret=s3%3Acr%2Bet%2F100%25%20sure"
    );
}

#[test]
fn settings_are_checked() {
    let check = |source: ClientCredentials| source.check().map_err(|err| err.to_string());
    let ok = || ClientCredentials::new("https://auth.example/token", "id", "secret");
    assert!(check(ok()).is_ok());
    assert!(check(ClientCredentials::new(
        "http://127.0.0.1:1/token",
        "id",
        "s"
    ))
    .is_ok());
    let remote = ClientCredentials::new("http://auth.example/token", "id", "s");
    assert!(matches!(
        remote.check(),
        Err(Error::InsecureTransport { .. })
    ));
    assert!(remote.allow_insecure_http(true).check().is_ok());
    for url in [
        "not a url",
        "ftp://auth.example/t",
        "https://u:pw@auth.example/t",
    ] {
        let err = check(ClientCredentials::new(url, "id", "s")).unwrap_err();
        assert!(err.contains("token_url"), "{err}");
    }
    let err = check(ok().param("client_secret", "x")).unwrap_err();
    assert!(err.contains("client_secret"), "{err}");
    assert!(check(ok().default_lifetime(Duration::ZERO)).is_err());
}

#[cfg(builtin_client)]
#[test]
fn debug_hides_the_secret_and_parameter_values() {
    let source = ClientCredentials::new("https://u:pw@auth.example/token?k=KEY", "id", "SECRET-1")
        .param("client_assertion", "ASSERTION-1")
        .http_client(|client| client);
    let text = format!("{source:?}");
    for hidden in ["SECRET-1", "ASSERTION-1", "KEY", "pw"] {
        assert!(!text.contains(hidden), "{text}");
    }
    assert!(
        text.contains("client_assertion") && text.contains("custom"),
        "{text}"
    );
}

#[test]
fn reads_a_bearer_token_with_or_without_expires_in() {
    let hour = ClientCredentials::DEFAULT_LIFETIME;
    let t = token(
        &HeaderMap::new(),
        br#"{"access_token":"abc","token_type":"Bearer","expires_in":300}"#,
        hour,
    )
    .expect("token");
    assert_eq!(
        (t.secret(), t.expires_in()),
        ("abc", Duration::from_secs(300))
    );
    let t = token(
        &HeaderMap::new(),
        br#"{"access_token":"abc","token_type":"bearer"}"#,
        hour,
    )
    .expect("token");
    assert_eq!(t.expires_in(), hour);
    let t = token(
        &HeaderMap::new(),
        br#"{"access_token":"abc","token_type":"BEARER","expires_in":"60"}"#,
        hour,
    )
    .expect("token");
    assert_eq!(t.expires_in(), Duration::from_secs(60));
}

#[test]
fn takes_a_token_without_a_type_as_bearer_and_any_lifetime_it_is_granted() {
    let hour = ClientCredentials::DEFAULT_LIFETIME;
    let lifetime = |fields: &str| {
        let body = format!(r#"{{"access_token":"abc"{fields}}}"#);
        token(&HeaderMap::new(), body.as_bytes(), hour).map(|t| t.expires_in())
    };
    for (fields, expected) in [
        ("", hour),
        (r#","token_type":null"#, hour),
        (r#","token_type":"""#, hour),
        (r#","token_type":" Bearer ""#, hour),
        (r#","expires_in":0"#, hour),
        (r#","expires_in":null"#, hour),
        (r#","expires_in":"0""#, hour),
        (r#","expires_in":"3600.0""#, Duration::from_secs(3600)),
        (r#","expires_in":" 3600 ""#, Duration::from_secs(3600)),
        (r#","expires_in":31536000"#, MAX_LIFETIME),
        (r#","expires_in":2147483647"#, MAX_LIFETIME),
        (r#","expires_in":1e12"#, MAX_LIFETIME),
        (r#","expires_in":1e300"#, MAX_LIFETIME),
    ] {
        assert_eq!(lifetime(fields).expect(fields), expected, "{fields}");
    }
    // The default lifetime is the source's, whatever it is.
    let t = token(
        &HeaderMap::new(),
        br#"{"access_token":"abc","expires_in":0}"#,
        Duration::from_secs(7),
    );
    assert_eq!(t.expect("token").expires_in(), Duration::from_secs(7));
}

#[test]
fn an_error_object_in_a_200_is_read_like_the_same_error_under_a_400() {
    let read = |body: &str| {
        token(&HeaderMap::new(), body.as_bytes(), Duration::from_secs(60)).unwrap_err()
    };
    for code in ["invalid_client", "unauthorized_client", "invalid_grant"] {
        let err = read(&format!(r#"{{"error":"{code}"}}"#));
        assert!(
            matches!(err, Error::InvalidCredentials { status, .. } if status == StatusCode::OK),
            "{code}: {err}"
        );
    }
    for code in ["temporarily_unavailable", "server_error"] {
        let err = read(&format!(r#"{{"error":"{code}"}}"#));
        assert!(err.is_retryable(), "{code}: {err}");
        assert!(err.to_string().contains(code), "{err}");
    }
    let mut wait = HeaderMap::new();
    wait.insert(header::RETRY_AFTER, "7".parse().expect("value"));
    let body = br#"{"error":"temporarily_unavailable"}"#;
    let err = token(&wait, body, Duration::from_secs(60)).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err}");
    let err = read(r#"{"error":"invalid_scope","access_token":"abc","token_type":"Bearer"}"#);
    assert!(
        matches!(err, Error::TokenEndpointRejected { .. }),
        "an error wins over a token beside it: {err}"
    );
    let err = read(r#"{"error":"SECRET-CODE","error_description":"SECRET"}"#);
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    // Only a non-empty code is an error, as in x/oauth2.
    for empty in [r#""""#, "null"] {
        let body = format!(r#"{{"error":{empty},"access_token":"abc","token_type":"Bearer"}}"#);
        token(&HeaderMap::new(), body.as_bytes(), Duration::from_secs(60)).expect(&body);
    }
}

#[test]
fn names_what_is_wrong_with_a_token_answer_without_quoting_it() {
    let bad = |body: &str| match token(&HeaderMap::new(), body.as_bytes(), Duration::from_secs(60))
    {
        Err(Error::BadTokenResponse { reason }) => reason.to_string(),
        other => panic!("expected a bad token response for {body}, got {other:?}"),
    };
    assert!(bad("SECRET-not-json").contains("not JSON"));
    assert!(bad(r#"["SECRET"]"#).contains("not a JSON object"));
    assert!(bad(r#"{"token_type":"Bearer"}"#).contains("access_token is missing"));
    assert!(
        bad(r#"{"access_token":"SECRET","token_type":"mac"}"#).contains("neither Bearer nor DPoP")
    );
    // A DPoP token for a source without a DPoP key, and a Bearer one for a source with one.
    assert!(bad(r#"{"access_token":"SECRET","token_type":"DPoP"}"#)
        .contains("set ClientCredentials::dpop"));
    let dpop = answer::Asked {
        dpop: true,
        ..answer::Asked::default()
    };
    let as_dpop = |body: &str| {
        answer::token(
            &HeaderMap::new(),
            body.as_bytes(),
            Duration::from_secs(60),
            dpop,
        )
    };
    let bearer = as_dpop(r#"{"access_token":"SECRET","token_type":"Bearer"}"#).unwrap_err();
    assert!(
        bearer.to_string().contains("did not bind the token"),
        "{bearer}"
    );
    let bound = as_dpop(r#"{"access_token":"t0k","token_type":"dpop"}"#).expect("DPoP token");
    assert_eq!(bound.header_value(), "DPoP t0k");
    assert_eq!((bound.token_type(), bound.secret()), ("DPoP", "t0k"));
    assert!(bad(r#"{"access_token":"SECRET","token_type":5}"#).contains("not a string"));
    assert!(bad(r#"{"access_token":"SECRET","token_type":"SECRET"}"#)
        .contains("neither Bearer nor DPoP"));
    let lifetime = |value: &str| {
        bad(&format!(
            r#"{{"access_token":"SECRET","token_type":"Bearer","expires_in":{value}}}"#
        ))
    };
    assert!(lifetime("-5").contains("negative"));
    assert!(lifetime(r#""-5""#).contains("negative"));
    for garbage in [r#""soon""#, "true", "{}", r#""NaN""#, r#""1e999""#, r#""""#] {
        assert!(
            lifetime(garbage).contains("expires_in is not a number"),
            "{garbage}"
        );
    }
    for body in [
        "SECRET-not-json",
        r#"{"access_token":"SECRET","token_type":"SECRET"}"#,
        r#"{"access_token":"SEC RET","token_type":"Bearer"}"#,
    ] {
        assert!(!bad(body).contains("SECRET") && !bad(body).contains("SEC RET"));
    }
}

mod refusals;

/// The form's fields, decoded.
fn form_fields(request: &http::Request<bytes::Bytes>) -> std::collections::HashMap<String, String> {
    body_of(request)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| {
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .expect("utf-8");
            (name.to_owned(), value.into_owned())
        })
        .collect()
}

// Under rustls-no-provider the provider is the app's, and these unit tests have none.
#[cfg(all(tls_rustls, not(tls_provider = "installed")))]
mod assertions;

#[test]
fn tls_client_auth_sends_the_client_id_and_no_secret() {
    let source = ClientCredentials::new("https://auth.example/token", "client-1", AWKWARD_SECRET)
        .auth_method(AuthMethod::TlsClientAuth);
    let request = built(&source);
    assert!(request.headers().get(header::AUTHORIZATION).is_none());
    let fields = form_fields(&request);
    assert_eq!(fields["client_id"], "client-1");
    assert!(!body_of(&request).contains("s3"), "{}", body_of(&request));
    assert_eq!(fields.len(), 2, "{fields:?}");
}

#[cfg(not(tls_rustls))]
#[test]
fn without_rustls_keys_and_client_secret_jwt_say_what_they_need() {
    let error = PrivateKey::from_pem(include_str!("../../tests/keys/es256.pem")).unwrap_err();
    assert!(error.to_string().contains("rustls feature"), "{error}");
    let error = PrivateKey::from_jwk(include_str!("../../tests/keys/es256.jwk")).unwrap_err();
    assert!(
        error.to_string().contains("ClientAssertion::file"),
        "{error}"
    );
    let source = ClientCredentials::new("https://auth.example/token", "c", "s")
        .auth_method(AuthMethod::ClientSecretJwt);
    let error = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(source.request(source.token_url()))
        .unwrap_err();
    assert!(error.to_string().contains("rustls feature"), "{error}");
}

#[test]
fn tls_client_auth_without_a_certificate_is_refused_before_any_request() {
    let source = ClientCredentials::new("https://auth.example/token", "c", "")
        .auth_method(AuthMethod::TlsClientAuth);
    let error = source.check().unwrap_err();
    assert!(
        error.to_string().contains("TLS client certificate"),
        "{error}"
    );
    // Under rustls-ring an identity among the http_client settings would not be used.
    #[cfg(tls_provider = "ring")]
    assert!(source.http_client(|client| client).check().is_err());
}

#[cfg(tls_provider = "installed")]
#[test]
fn keys_without_an_installed_provider_say_to_install_one() {
    // No test in this binary installs one (the process-level default is the app's).
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let error = PrivateKey::from_pem(include_str!("../../tests/keys/es256.pem")).unwrap_err();
        assert!(error.to_string().contains("install_default"), "{error}");
    }
}
