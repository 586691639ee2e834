//! The fake's token endpoint: Symbl's answer (checked credentials, a token re-served until it
//! is nearly stale), the faults a test queues in its place, and the fake as a [`TokenSource`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{header, StatusCode};
use tokio::time::Instant;

use super::{json, Answer, FakeSymbl};
use crate::symbl::token_from_answer;
use crate::{Error, TokenFuture, TokenSource};

/// A fault the token endpoint shows instead of answering normally.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TokenFault {
    /// Answer with this status and a small JSON error body.
    Status(StatusCode),
    /// Answer `429 Too Many Requests` with this `Retry-After` value.
    TooManyRequests {
        /// The `Retry-After` header, in seconds or as an HTTP date.
        retry_after: String,
    },
    /// Answer `200` with this body instead of a token.
    Body(Bytes),
    /// Answer `200` with this body and this `content-type` instead of a token.
    Typed {
        /// The `content-type` header (a valid header value, such as `"text/html"`).
        content_type: &'static str,
        /// The body.
        body: Bytes,
    },
    /// Grant a token as usual, but with this raw JSON text as `expiresIn` (`"0"`, `"-5"`,
    /// `"1.5"`, `"1e300"`, `"\"86400\""`).
    ExpiresIn(&'static str),
    /// Grant a token as usual, but answer with this body, in which `{token}` stands for the
    /// token as a JSON string: `"\u{feff}{\"accessToken\":{token},\"expiresIn\":60}"`, or
    /// `{"accessToken":{token}}` without a lifetime.
    GrantedAs(&'static str),
    /// Never answer.
    Hang,
    /// Grant a token as usual, but drop the connection halfway through the body (over HTTP;
    /// in memory, a network error).
    ResetMidBody,
    /// Grant a token as usual, but send its body one byte every `interval` (in memory, the
    /// whole answer arrives after that long per byte).
    SlowDrip {
        /// The pause before each byte.
        interval: Duration,
    },
}

/// How the fake's token endpoint answers one request, made by [`FakeSymbl::token_reply`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenReply {
    /// The whole answer at once.
    Answer(Answer),
    /// The status, headers and first half of the body of this answer; then the connection
    /// drops.
    ResetMidBody(Answer),
    /// This answer, its body one byte every `interval`.
    Drip {
        /// The answer.
        answer: Answer,
        /// The pause before each byte.
        interval: Duration,
    },
    /// No answer, ever.
    Hang,
}

impl FakeSymbl {
    /// The token endpoint's answer to a request with this `body`: the next queued fault, or
    /// Symbl's answer.
    pub fn token_reply(&self, body: &[u8]) -> TokenReply {
        self.shared.token_requests.fetch_add(1, Ordering::SeqCst);
        let fault = self.lock().faults.pop_front();
        let Some(fault) = fault else {
            return TokenReply::Answer(self.grant(body));
        };
        TokenReply::Answer(match fault {
            TokenFault::Status(status) => json(status, r#"{"message":"fault"}"#),
            TokenFault::TooManyRequests { retry_after } => {
                let mut answer = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"message":"Maximum number of concurrent jobs reached."}"#,
                );
                if let Ok(value) = retry_after.parse() {
                    answer.headers.insert(header::RETRY_AFTER, value);
                }
                answer
            }
            TokenFault::Body(body) => json(StatusCode::OK, body),
            TokenFault::Typed { content_type, body } => {
                let mut answer = json(StatusCode::OK, body);
                answer.headers.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(content_type),
                );
                answer
            }
            TokenFault::ExpiresIn(raw) => {
                let mut answer = self.grant(body);
                if answer.status == StatusCode::OK {
                    let granted: serde_json::Value =
                        serde_json::from_slice(&answer.body).unwrap_or_default();
                    let token = granted["accessToken"].to_string();
                    answer.body = format!(r#"{{"accessToken":{token},"expiresIn":{raw}}}"#).into();
                }
                answer
            }
            TokenFault::GrantedAs(template) => {
                let mut answer = self.grant(body);
                if answer.status == StatusCode::OK {
                    let granted: serde_json::Value =
                        serde_json::from_slice(&answer.body).unwrap_or_default();
                    let token = granted["accessToken"].to_string();
                    answer.body = template.replace("{token}", &token).into();
                }
                answer
            }
            TokenFault::Hang => return TokenReply::Hang,
            TokenFault::ResetMidBody => return TokenReply::ResetMidBody(self.grant(body)),
            TokenFault::SlowDrip { interval } => {
                return TokenReply::Drip {
                    answer: self.grant(body),
                    interval,
                }
            }
        })
    }

    /// Symbl's answer to a token request: check the request, then issue or re-serve a token.
    fn grant(&self, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
            return json(StatusCode::BAD_REQUEST, r#"{"message":"Bad Request"}"#);
        };
        let field = |name: &str| request.get(name).and_then(|value| value.as_str());
        if field("type") != Some("application") {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"message":"type must be application"}"#,
            );
        }
        let accepted = self.shared.credentials.iter().find(|credentials| {
            field("appId") == Some(credentials.app_id())
                && field("appSecret") == Some(credentials.app_secret())
        });
        let Some(credentials) = accepted else {
            return json(StatusCode::UNAUTHORIZED, r#"{"message":"Unauthorized"}"#);
        };
        let app_id = credentials.app_id();
        let mut state = self.lock();
        let now = Instant::now();
        let (token, expires_at) = match state.cached.get(app_id) {
            // Like Symbl: re-serve the cached token while it has a while (and a whole second)
            // to live.
            Some((token, expires_at))
                if expires_at.saturating_duration_since(now)
                    >= self.shared.reissue_before.max(Duration::from_secs(1)) =>
            {
                (token.clone(), *expires_at)
            }
            _ => {
                let serial = self.shared.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
                let token = format!("fake-token-{serial}-{:016x}", random());
                let expires_at = now + self.shared.lifetime;
                state
                    .cached
                    .insert(app_id.to_owned(), (token.clone(), expires_at));
                state.valid.insert(token.clone(), expires_at);
                state.issued_to.insert(token.clone(), app_id.to_owned());
                (token, expires_at)
            }
        };
        let expires_in = expires_at.saturating_duration_since(now).as_secs();
        let body = serde_json::json!({ "accessToken": token, "expiresIn": expires_in });
        json(StatusCode::OK, body.to_string())
    }
}

impl TokenSource for FakeSymbl {
    /// Asks the fake's token endpoint in memory, with the credentials it accepts.
    fn fetch_token(&self) -> TokenFuture<'_> {
        let credentials = &self.shared.credentials[0];
        let request = serde_json::json!({
            "type": "application",
            "appId": credentials.app_id(),
            "appSecret": credentials.app_secret(),
        });
        let reply = self.token_reply(request.to_string().as_bytes());
        Box::pin(async move {
            let answer = match reply {
                TokenReply::Answer(answer) => answer,
                TokenReply::Hang => return std::future::pending().await,
                TokenReply::ResetMidBody(_) => {
                    return Err(Error::unavailable(
                        "the connection failed while reading the token response",
                        None,
                    ))
                }
                TokenReply::Drip { answer, interval } => {
                    let bytes = u32::try_from(answer.body.len()).unwrap_or(u32::MAX);
                    tokio::time::sleep(interval.saturating_mul(bytes)).await;
                    answer
                }
            };
            // Sorted exactly as the HTTP source sorts a real answer.
            token_from_answer(answer.status, &answer.headers, &answer.body)
        })
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch_with(fault: TokenFault) -> Error {
        let fake = FakeSymbl::new();
        fake.fail_token_requests(fault, 1);
        fake.fetch_token().await.expect_err("a fault")
    }

    #[tokio::test]
    async fn in_memory_faults_are_sorted_like_real_answers() {
        // 403 means bad credentials and 404 a wrong URL, as over HTTP; neither is retried.
        let forbidden = fetch_with(TokenFault::Status(StatusCode::FORBIDDEN)).await;
        assert!(
            matches!(forbidden, Error::InvalidCredentials { .. }),
            "{forbidden}"
        );
        let not_found = fetch_with(TokenFault::Status(StatusCode::NOT_FOUND)).await;
        assert!(
            matches!(not_found, Error::TokenEndpointRejected { .. }),
            "{not_found}"
        );

        // `Retry-After` as an HTTP date is honoured, not dropped.
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let dated = fetch_with(TokenFault::TooManyRequests {
            retry_after: httpdate::fmt_http_date(later),
        })
        .await;
        let retry_after = dated.retry_after().expect("Retry-After kept");
        assert!(retry_after > Duration::from_secs(100), "{retry_after:?}");

        // The size limit applies in memory too.
        let huge = fetch_with(TokenFault::Body(Bytes::from(vec![b' '; 100 * 1024]))).await;
        assert!(huge.to_string().contains("larger than"), "{huge}");
    }
}
