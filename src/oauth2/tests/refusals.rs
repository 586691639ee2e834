//! Refusals sorted by their RFC 6749 §5.2 error code.

use http::{HeaderMap, StatusCode};

use super::super::answer::refusal;
use super::*;

#[test]
fn sorts_refusals_by_their_error_code() {
    let headers = HeaderMap::new();
    let sorted = |status: u16, body: &str| {
        let status = StatusCode::from_u16(status).expect("status");
        refusal(
            status,
            &headers,
            Some(body.as_bytes()),
            answer::Asked::default(),
        )
    };
    for code in ["invalid_client", "unauthorized_client", "invalid_grant"] {
        for status in [400, 401] {
            let err = sorted(status, &format!(r#"{{"error":"{code}"}}"#));
            assert!(
                matches!(err, Error::InvalidCredentials { .. }),
                "{code}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains(code) && !text.contains("SYMBL"), "{text}");
        }
    }
    for code in [
        "invalid_scope",
        "invalid_request",
        "unsupported_grant_type",
        "invalid_target",
        "access_denied",
        "invalid_dpop_proof",
        "use_dpop_nonce",
    ] {
        let err = sorted(400, &format!(r#"{{"error":"{code}"}}"#));
        assert!(
            matches!(err, Error::TokenEndpointRejected { .. }),
            "{code}: {err}"
        );
        assert!(err.to_string().contains(code), "{err}");
    }
    // A DPoP-bound client that sent no proof: named, not "wrong credentials".
    let err = sorted(
        400,
        r#"{"error":"invalid_grant","error_description":"DPoP proof JWT not provided"}"#,
    );
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
    assert!(err.to_string().contains("ClientCredentials::dpop"), "{err}");
    assert!(!err.to_string().contains("not provided"), "{err}");
    // Each method is told what to check.
    for method in ["private_key_jwt", "client_secret_jwt", "tls_client_auth"] {
        let asked = answer::Asked {
            method,
            dpop: false,
        };
        let err = refusal(
            StatusCode::UNAUTHORIZED,
            &headers,
            Some(br#"{"error":"invalid_client"}"#),
            asked,
        );
        assert!(err.to_string().contains(&format!("for {method}")), "{err}");
    }
    let err = sorted(400, r#"{"error":"temporarily_unavailable"}"#);
    assert!(err.is_retryable(), "{err}");
    let err = sorted(400, r#"{"error":"SECRET","error_description":"SECRET"}"#);
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    // No code: the status decides.
    let err = refusal(
        StatusCode::UNAUTHORIZED,
        &headers,
        None,
        answer::Asked::default(),
    );
    assert!(matches!(err, Error::InvalidCredentials { .. }), "{err}");
    let err = sorted(404, "<html>Not Found</html>");
    assert!(matches!(err, Error::TokenEndpointRejected { .. }), "{err}");
    assert!(err.to_string().contains("token URL"), "{err}");
}
