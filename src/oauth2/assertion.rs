//! Client assertions (RFC 7521 §4.2, RFC 7523 §2.2 and §3): a fresh JWT for every token request,
//! signed here (`private_key_jwt`, `client_secret_jwt`) or brought from outside the process
//! ([`ClientAssertion`]: a file Kubernetes projects, a KMS or HSM behind a callback).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(tls_rustls)]
use super::jose::{b64, now_secs};
use super::key::PrivateKey;
use crate::{BoxError, Error};

/// How far ahead an assertion expires: RFC 7523 §3 leaves it to the client; a minute covers
/// clock skew and one request, and limits what a captured assertion is worth.
#[cfg(tls_rustls)]
pub(super) const ASSERTION_LIFETIME_SECS: u64 = 60;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The largest assertion file read: a projected service account token is about 1 KiB.
const MAX_FILE_BYTES: u64 = 64 * 1024;

type Callback = dyn Fn(&AssertionRequest) -> Pin<Box<dyn Future<Output = Result<String, BoxError>> + Send>>
    + Send
    + Sync;

/// A client assertion made outside the process, asked for anew at every token request (used
/// with [`AuthMethod::ClientAssertion`](super::AuthMethod::ClientAssertion)):
///
/// - [`file`](Self::file): a JWT in a file, re-read each time, as Kubernetes projects a
///   service account token (`serviceAccountToken` volume) that it rotates in place. Workload
///   identity federation (Azure AD, Google, AWS Cognito) takes such a token as the assertion.
/// - [`from_fn`](Self::from_fn): your function signs one, such as through a KMS or an HSM that
///   holds the key; it gets the client id and the audience (the token URL) to put in it.
///
/// The assertion is sent as `client_assertion` with `client_assertion_type`
/// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, never logged or shown.
#[derive(Clone)]
pub struct ClientAssertion {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    File(PathBuf),
    Callback(Arc<Callback>),
}

/// What an assertion made by [`ClientAssertion::from_fn`] must say (RFC 7523 §3).
#[derive(Debug)]
#[non_exhaustive]
pub struct AssertionRequest {
    client_id: String,
    audience: String,
}

impl AssertionRequest {
    /// The client id: the assertion's `iss` and `sub`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint URL: the assertion's `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }
}

impl ClientAssertion {
    /// An assertion read from `path` at every token request (at most 64 KiB, surrounding
    /// whitespace trimmed). An unreadable or empty file fails the fetch with
    /// [`Error::CredentialsFile`] naming the path.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            kind: Kind::File(path.into()),
        }
    }

    /// An assertion from `make`, called at every token request (retries included): a signed
    /// JWT with `iss` = `sub` = [`client_id`](AssertionRequest::client_id), `aud` =
    /// [`audience`](AssertionRequest::audience), a unique `jti` and a short `exp`. An error
    /// it returns fails the fetch as [`Error::TokenEndpointUnavailable`] (retried, as a KMS
    /// outage may pass), its text not quoted.
    pub fn from_fn<F, Fut>(make: F) -> Self
    where
        F: Fn(&AssertionRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, BoxError>> + Send + 'static,
    {
        Self {
            kind: Kind::Callback(Arc::new(move |request| Box::pin(make(request)))),
        }
    }

    /// The assertion for one token request.
    pub(super) async fn make(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        match &self.kind {
            Kind::File(path) => read_file(path.clone()).await,
            Kind::Callback(make) => {
                let request = AssertionRequest {
                    client_id: client_id.to_owned(),
                    audience: audience.to_owned(),
                };
                match make(&request).await {
                    Ok(assertion) if !assertion.trim().is_empty() => {
                        Ok(assertion.trim().to_owned())
                    }
                    Ok(_) => Err(Error::config(
                        "ClientAssertion::from_fn returned an empty assertion",
                    )),
                    Err(_) => Err(Error::TokenEndpointUnavailable {
                        status: None,
                        retry_after: None,
                        reason: crate::Reason::new(
                            "the client assertion function (ClientAssertion::from_fn) failed",
                        ),
                    }),
                }
            }
        }
    }
}

/// Reads an assertion file off the runtime's threads (it may sit on a slow volume).
async fn read_file(path: PathBuf) -> Result<String, Error> {
    let read = {
        let path = path.clone();
        move || -> std::io::Result<String> {
            use std::io::Read as _;
            let mut text = String::new();
            std::fs::File::open(&path)?
                .take(MAX_FILE_BYTES)
                .read_to_string(&mut text)?;
            Ok(text)
        }
    };
    let text = match tokio::task::spawn_blocking(read).await {
        Ok(Ok(text)) => text,
        Ok(Err(_)) => {
            return Err(Error::credentials_file(
                path,
                "the client assertion file cannot be read",
            ))
        }
        Err(_) => {
            return Err(Error::credentials_file(
                path,
                "reading the client assertion file was cancelled",
            ))
        }
    };
    let assertion = text.trim();
    if assertion.is_empty() {
        return Err(Error::credentials_file(
            path,
            "the client assertion file is empty",
        ));
    }
    Ok(assertion.to_owned())
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::File(path) => f.debug_tuple("ClientAssertion::file").field(path).finish(),
            Kind::Callback(_) => f.write_str("ClientAssertion::from_fn(..)"),
        }
    }
}

/// The claims of an assertion (RFC 7523 §3): `iss` = `sub` = the client id; `aud` = the token
/// endpoint URL, the value §3 names and the one every server accepts (the issuer is accepted by
/// many, not all, and is unknown without discovery); a fresh `jti`; `iat` now; `exp` a minute
/// ahead.
#[cfg(tls_rustls)]
fn claims(
    provider: &rustls::crypto::CryptoProvider,
    client_id: &str,
    audience: &str,
) -> Result<String, Error> {
    let now = now_secs();
    Ok(serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": super::jose::unique_id(provider)?,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    })
    .to_string())
}

/// A `private_key_jwt` assertion signed with `key`.
pub(super) fn signed(key: &PrivateKey, client_id: &str, audience: &str) -> Result<String, Error> {
    #[cfg(tls_rustls)]
    {
        let mut header = serde_json::json!({"alg": key.alg.name(), "typ": "JWT"});
        if let Some(kid) = &key.kid {
            header["kid"] = serde_json::Value::from(&**kid);
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string()),
            b64(claims(&key.inner.provider, client_id, audience)?)
        );
        let signature = key.inner.sign(key.alg, input.as_bytes())?;
        Ok(format!("{input}.{}", b64(signature)))
    }
    #[cfg(not(tls_rustls))]
    {
        let _ = (client_id, audience);
        match key.inner {}
    }
}

/// A `client_secret_jwt` assertion: HS256 with the client secret (RFC 7518 §3.2).
pub(super) fn hmac(secret: &str, client_id: &str, audience: &str) -> Result<String, Error> {
    #[cfg(tls_rustls)]
    {
        let provider = crate::tls::provider()?;
        let header = r#"{"alg":"HS256","typ":"JWT"}"#;
        let input = format!(
            "{}.{}",
            b64(header),
            b64(claims(&provider, client_id, audience)?)
        );
        let tag = super::jose::hmac_sha256(&provider, secret.as_bytes(), input.as_bytes())?;
        Ok(format!("{input}.{}", b64(tag)))
    }
    #[cfg(not(tls_rustls))]
    {
        let _ = (secret, client_id, audience);
        Err(super::jose::no_provider())
    }
}
