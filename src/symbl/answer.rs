//! Symbl's answer to a token request.

use std::time::Duration;

use serde_json::Value;

use super::SymblTokenSource;
use crate::transport::answer::{json_object, lifetime};
use crate::{AccessToken, Error};

impl SymblTokenSource {
    /// The lifetime taken for a token Symbl grants with an `expiresIn` of 0, `null` or none:
    /// 86,400 s, the lifetime Symbl's authentication docs give its tokens ("The default
    /// expiration time is 86400 seconds").
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_400);
}

/// Parses Symbl's `{"accessToken": "...", "expiresIn": 86400}`, taking any token it grants:
/// `expiresIn` is read by [`lifetime`] (0 or none is
/// [`SymblTokenSource::DEFAULT_LIFETIME`]), and a leading BOM is skipped.
///
/// Symbl documents its refusals as statuses (400, 401, 404, 429, 500), so a `200` without an
/// `accessToken` is not a token whatever it holds: [`Error::BadTokenResponse`], held for the
/// failure cool-down and then asked again. When the body looks like an error (an `error` or
/// `message` member, as a gateway in front of the endpoint may send) the reason says so,
/// rather than guessing at bad credentials from words Symbl does not document.
///
/// Errors name what is wrong but never quote the body: serde's messages can echo input, so
/// they are not passed on.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<AccessToken, Error> {
    let fields = json_object(body)?;
    let token = match fields.get("accessToken") {
        Some(Value::String(token)) => token,
        Some(_) => return Err(Error::bad_token_response("accessToken is not a string")),
        None if fields.contains_key("error") || fields.contains_key("message") => {
            return Err(Error::bad_token_response(
                "accessToken is missing: the answer is an error message, not a token (Symbl \
                 answers errors with a 4xx or 5xx status: check the token URL and any proxy \
                 in front of it)",
            ))
        }
        None => return Err(Error::bad_token_response("accessToken is missing")),
    };
    let expires_in = lifetime(
        fields.get("expiresIn"),
        "expiresIn",
        SymblTokenSource::DEFAULT_LIFETIME,
    )?;
    AccessToken::new(token, expires_in)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_LIFETIME;

    fn bad_reason(body: &str) -> String {
        match parse_token_response(body.as_bytes()) {
            Err(Error::BadTokenResponse { reason }) => reason.to_string(),
            other => panic!("expected a bad token response for {body}, got {other:?}"),
        }
    }

    #[test]
    fn parses_symbls_answer() {
        let token =
            parse_token_response(br#"{"accessToken":"eyJ.abc","expiresIn":86400}"#).expect("valid");
        assert_eq!(token.secret(), "eyJ.abc");
        assert_eq!(token.expires_in(), Duration::from_secs(86400));
    }

    #[test]
    fn names_each_kind_of_malformed_body() {
        assert!(bad_reason("not json").contains("not JSON"));
        assert!(bad_reason("[1,2]").contains("not a JSON object"));
        assert!(bad_reason(r#"{"expiresIn":5}"#).contains("accessToken is missing"));
        assert!(bad_reason(r#"{"accessToken":5,"expiresIn":5}"#).contains("not a string"));
        assert!(bad_reason(r#"{"accessToken":"","expiresIn":5}"#).contains("empty"));
        // A JSON number no double holds is not JSON serde can read.
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":1e999}"#).contains("not JSON"));
    }

    #[test]
    fn an_error_message_in_a_200_is_no_token_and_says_so() {
        for body in [
            r#"{"message":"Unauthorized"}"#,
            r#"{"error":"invalid_client"}"#,
        ] {
            let reason = bad_reason(body);
            assert!(reason.contains("an error message, not a token"), "{reason}");
            assert!(!reason.contains("Unauthorized") && !reason.contains("invalid_client"));
        }
    }

    fn lifetime_of(raw: &str) -> Result<Duration, String> {
        let body = format!(r#"{{"accessToken":"t","expiresIn":{raw}}}"#);
        parse_token_response(body.as_bytes())
            .map(|token| token.expires_in())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn takes_any_lifetime_a_server_grants() {
        let day = SymblTokenSource::DEFAULT_LIFETIME;
        assert_eq!(day, Duration::from_secs(86_400));
        let absent = parse_token_response(br#"{"accessToken":"t"}"#).expect("token");
        assert_eq!(absent.expires_in(), day);
        for (raw, lifetime) in [
            ("0", day),
            ("0.0", day),
            ("-0", day),
            ("1e-12", day),
            ("null", day),
            (r#""0""#, day),
            (r#""86400""#, Duration::from_secs(86_400)),
            (r#""3600.0""#, Duration::from_secs(3600)),
            (r#"" 3600 ""#, Duration::from_secs(3600)),
            (r#""1.5e3""#, Duration::from_secs(1500)),
            ("31536000", MAX_LIFETIME),
            ("31536001", MAX_LIFETIME),
            ("2147483647", MAX_LIFETIME),
            ("99999999999", MAX_LIFETIME),
            ("1e12", MAX_LIFETIME),
            ("1e300", MAX_LIFETIME),
            (r#""1e300""#, MAX_LIFETIME),
            ("18446744073709551616", MAX_LIFETIME),
        ] {
            assert_eq!(lifetime_of(raw), Ok(lifetime), "{raw}");
        }
    }

    #[test]
    fn negative_and_garbage_lifetimes_stay_errors() {
        for (raw, says) in [
            ("-5", "expiresIn is negative"),
            ("-0.5", "expiresIn is negative"),
            (r#""-5""#, "expiresIn is negative"),
            (r#""soon""#, "expiresIn is not a number"),
            (r#""""#, "expiresIn is not a number"),
            (r#""NaN""#, "expiresIn is not a number"),
            (r#""Infinity""#, "expiresIn is not a number"),
            (r#""1e999""#, "expiresIn is not a number"),
            (r#""+5""#, "expiresIn is not a number"),
            (r#""3600s""#, "expiresIn is not a number"),
            ("true", "expiresIn is not a number"),
            ("{}", "expiresIn is not a number"),
            ("[3600]", "expiresIn is not a number"),
        ] {
            let err = lifetime_of(raw).expect_err(raw);
            assert!(err.contains(says), "{raw}: {err}");
            assert!(
                !err.contains("soon") && !err.contains("3600"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped() {
        let body = b"\xEF\xBB\xBF{\"accessToken\":\"t\",\"expiresIn\":60}";
        let token = parse_token_response(body).expect("token");
        assert_eq!(token.expires_in(), Duration::from_secs(60));
        // One mark, not any bytes before the JSON.
        assert!(parse_token_response(b"\xEF\xBB\xBF\xEF\xBB\xBF{}").is_err());
    }

    #[test]
    fn fractional_lifetimes_are_kept() {
        let token = parse_token_response(br#"{"accessToken":"t","expiresIn":1.5}"#).expect("valid");
        assert_eq!(token.expires_in(), Duration::from_millis(1500));
    }

    #[test]
    fn errors_never_quote_the_body() {
        let secretish = r#"{"accessToken":"line\nbreak-SECRET","expiresIn":5}"#;
        assert!(!bad_reason(secretish).contains("SECRET"));
        let invalid_type = r#"{"accessToken":{"nested":"SECRET"},"expiresIn":5}"#;
        assert!(!bad_reason(invalid_type).contains("SECRET"));
        let truncated = r#"{"accessToken":"SECRET"#;
        assert!(!bad_reason(truncated).contains("SECRET"));
    }
}
