//! Authorization server metadata ([RFC 8414], and [OpenID Connect Discovery 1.0] as the
//! fallback): the token endpoint and what the server supports, read from the issuer at the
//! first fetch, checked, and kept.
//!
//! [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414
//! [OpenID Connect Discovery 1.0]: https://openid.net/specs/openid-connect-discovery-1_0.html

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode};
use serde_json::{Map, Value};

use crate::transport::{self, check_token_url, TokenClient};
use crate::Error;

/// What a token request needs from the metadata.
#[derive(Debug)]
pub(super) struct Metadata {
    pub(super) token_endpoint: String,
    /// `mtls_endpoint_aliases.token_endpoint` (RFC 8705 §5), for `tls_client_auth`.
    pub(super) mtls_token_endpoint: Option<String>,
    auth_methods: Option<Vec<String>>,
    auth_signing_algs: Option<Vec<String>>,
    dpop_algs: Option<Vec<String>>,
}

/// An issuer and its metadata once read, shared by a source's clones.
#[derive(Debug)]
pub(super) struct Discovery {
    issuer: String,
    cached: Mutex<Option<Arc<Metadata>>>,
}

impl Discovery {
    pub(super) fn new(issuer: String) -> Self {
        Self {
            issuer,
            cached: Mutex::new(None),
        }
    }

    /// Forgets the metadata, so the next fetch reads it again: after a token request failed in
    /// a way that suggests the endpoint moved (`404`, `405`, `410`, or no answer at all).
    pub(super) fn forget_if_moved(&self, error: &Error) {
        let moved = match error {
            Error::TokenEndpointRejected { status, .. } => matches!(
                *status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::GONE
            ),
            Error::TokenEndpointUnavailable { status: None, .. } => true,
            _ => false,
        };
        if moved {
            if let Ok(mut cached) = self.cached.lock() {
                *cached = None;
            }
        }
    }

    /// The metadata: kept, or read now.
    pub(super) async fn metadata(
        &self,
        client: &TokenClient,
        allow_insecure_http: bool,
    ) -> Result<Arc<Metadata>, Error> {
        if let Some(kept) = self.cached.lock().ok().and_then(|kept| kept.clone()) {
            return Ok(kept);
        }
        let fields = self.read(client).await?;
        let metadata = Arc::new(self.checked(&fields, allow_insecure_http)?);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Arc::clone(&metadata));
        }
        Ok(metadata)
    }

    /// The two places metadata may be: RFC 8414 §3.1 inserts the well-known path before the
    /// issuer's path; OpenID Connect Discovery §4 appends it.
    fn urls(&self) -> [String; 2] {
        let issuer = self.issuer.trim_end_matches('/');
        let (origin, path) = match issuer.find("://") {
            Some(scheme_end) => match issuer[scheme_end + 3..].find('/') {
                Some(slash) => issuer.split_at(scheme_end + 3 + slash),
                None => (issuer, ""),
            },
            None => (issuer, ""),
        };
        [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{issuer}/.well-known/openid-configuration"),
        ]
    }

    /// Reads the first document found: RFC 8414's, else OpenID Connect's.
    async fn read(&self, client: &TokenClient) -> Result<Map<String, Value>, Error> {
        let mut last = None;
        for url in self.urls() {
            let request = Request::get(url.as_str())
                .header(header::ACCEPT, HeaderValue::from_static("application/json"))
                .body(Bytes::new())
                .map_err(|_| Error::config("the issuer is not a valid URL"))?;
            let answer = client.send(request).await?;
            let status = answer.status();
            if status.is_success() {
                let body = transport::read_body(answer).await?;
                return transport::answer::json_object(&body).map_err(|_| {
                    Error::rejected(status).with_reason(
                        "the authorization server metadata is not a JSON object (RFC 8414 §3.2)",
                    )
                });
            }
            if let Some(transient) = transport::answer::transient(status, answer.headers()) {
                return Err(transient);
            }
            last = Some(status);
        }
        let status = last.unwrap_or(StatusCode::NOT_FOUND);
        Err(Error::rejected(status).with_reason(
            "no authorization server metadata at the issuer (neither \
             /.well-known/oauth-authorization-server, RFC 8414, nor \
             /.well-known/openid-configuration): check the issuer URL, or give the token URL \
             to ClientCredentials::new",
        ))
    }

    /// The metadata, if its `issuer` is the one configured (RFC 8414 §3.3) and its token
    /// endpoint is a URL the credentials may go to.
    fn checked(
        &self,
        fields: &Map<String, Value>,
        allow_insecure_http: bool,
    ) -> Result<Metadata, Error> {
        match fields.get("issuer") {
            Some(Value::String(issuer)) if *issuer == self.issuer => {}
            Some(Value::String(issuer))
                if issuer.trim_end_matches('/') == self.issuer.trim_end_matches('/') =>
            {
                return Err(Error::config(
                    "the metadata's issuer differs from the configured one by a trailing slash: \
                     RFC 8414 §3.3 wants them identical, so give ClientCredentials::from_issuer \
                     the issuer exactly as the server writes it",
                ));
            }
            _ => {
                return Err(Error::config(
                    "the metadata's issuer is not the configured issuer (RFC 8414 §3.3): the \
                     document may be another server's; check the issuer URL",
                ));
            }
        }
        let setting = "ClientCredentials::allow_insecure_http";
        let endpoint = |value: Option<&Value>| match value {
            Some(Value::String(url)) => {
                check_token_url(url, allow_insecure_http, setting).map(|_| Some(url.clone()))
            }
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(Error::config(
                "the metadata's token_endpoint is not a string",
            )),
        };
        let token_endpoint = endpoint(fields.get("token_endpoint"))?.ok_or_else(|| {
            Error::config("the authorization server metadata has no token_endpoint")
        })?;
        let mtls_token_endpoint = match fields.get("mtls_endpoint_aliases") {
            Some(Value::Object(aliases)) => endpoint(aliases.get("token_endpoint"))?,
            _ => None,
        };
        let list = |name: &str| match fields.get(name) {
            Some(Value::Array(values)) => Some(
                values
                    .iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        };
        Ok(Metadata {
            token_endpoint,
            mtls_token_endpoint,
            auth_methods: list("token_endpoint_auth_methods_supported"),
            auth_signing_algs: list("token_endpoint_auth_signing_alg_values_supported"),
            dpop_algs: list("dpop_signing_alg_values_supported"),
        })
    }
}

impl Metadata {
    /// Checks that the server supports the client's method, its signing algorithm and its DPoP
    /// algorithm, before any token request is sent. A list the server does not publish is not
    /// held against it, except the methods: RFC 8414 §2 says the default is
    /// `client_secret_basic` alone.
    pub(super) fn check(
        &self,
        method: &'static str,
        signing_alg: Option<&str>,
        dpop_alg: Option<&str>,
    ) -> Result<(), Error> {
        let supports = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref()
                .is_none_or(|list| list.iter().any(|item| item == value))
        };
        let methods_supported = match &self.auth_methods {
            Some(list) => list.iter().any(|item| item == method),
            None => method == "client_secret_basic",
        };
        if !methods_supported {
            return Err(Error::config(format!(
                "the authorization server does not support the client authentication method \
                 {method} (token_endpoint_auth_methods_supported): choose one it lists with \
                 ClientCredentials::auth_method"
            )));
        }
        if let Some(alg) = signing_alg {
            if !supports(&self.auth_signing_algs, alg) {
                return Err(Error::config(format!(
                    "the authorization server does not accept {alg} for {method} \
                     (token_endpoint_auth_signing_alg_values_supported): use a key of an \
                     algorithm it lists"
                )));
            }
        }
        if let Some(alg) = dpop_alg {
            if !supports(&self.dpop_algs, alg) {
                return Err(Error::config(format!(
                    "the authorization server does not accept {alg} DPoP proofs \
                     (dpop_signing_alg_values_supported): use a DPoP key of an algorithm it \
                     lists"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_rfc_8414_and_openid_connect() {
        let urls = |issuer: &str| Discovery::new(issuer.to_owned()).urls();
        assert_eq!(
            urls("https://as.example"),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example/tenant/1/"),
            [
                "https://as.example/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example/tenant/1/.well-known/openid-configuration"
            ]
        );
    }

    fn metadata(json: Value) -> Result<Metadata, Error> {
        let Value::Object(fields) = json else {
            panic!("object")
        };
        Discovery::new("https://as.example".to_owned()).checked(&fields, false)
    }

    #[test]
    fn the_issuer_must_be_the_configured_one() {
        let endpoint = "https://as.example/token";
        assert!(metadata(
            serde_json::json!({"issuer": "https://as.example", "token_endpoint": endpoint})
        )
        .is_ok());
        for issuer in [
            serde_json::json!("https://evil.example"),
            serde_json::json!("https://as.example/"),
            serde_json::json!(null),
        ] {
            let error = metadata(serde_json::json!({"issuer": issuer, "token_endpoint": endpoint}))
                .unwrap_err();
            assert!(error.to_string().contains("RFC 8414 §3.3"), "{error}");
            assert!(!error.to_string().contains("evil"), "{error}");
        }
        let plain = metadata(
            serde_json::json!({"issuer": "https://as.example", "token_endpoint": "http://as.example/token"}),
        );
        assert!(matches!(plain, Err(Error::InsecureTransport { .. })));
    }

    #[test]
    fn advertised_methods_and_algorithms_are_checked() {
        let metadata = metadata(serde_json::json!({
            "issuer": "https://as.example",
            "token_endpoint": "https://as.example/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
            "dpop_signing_alg_values_supported": ["ES256"],
        }))
        .expect("metadata");
        assert!(metadata
            .check("private_key_jwt", Some("ES256"), Some("ES256"))
            .is_ok());
        let named = |error: Error, name: &str| assert!(error.to_string().contains(name), "{error}");
        named(
            metadata
                .check("client_secret_post", None, None)
                .unwrap_err(),
            "client_secret_post",
        );
        named(
            metadata
                .check("private_key_jwt", Some("RS256"), None)
                .unwrap_err(),
            "RS256",
        );
        named(
            metadata
                .check("private_key_jwt", Some("ES256"), Some("EdDSA"))
                .unwrap_err(),
            "EdDSA DPoP",
        );
    }
}
