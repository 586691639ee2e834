//! The token endpoint's response parser on arbitrary bytes: never a panic; a token it accepts
//! can go in a header and has a sane lifetime; an error never quotes the token it saw.
#![no_main]

use libfuzzer_sys::fuzz_target;
use symbl_auth::{MAX_LIFETIME, MAX_TOKEN_LEN};

fuzz_target!(|body: &[u8]| {
    match symbl_auth::__fuzz::parse_token_response(body) {
        Ok(token) => {
            let secret = token.secret();
            assert!(!secret.is_empty() && secret.len() <= MAX_TOKEN_LEN);
            assert!(secret.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(
                token.header_value().as_bytes(),
                format!("Bearer {secret}").as_bytes()
            );
            assert!(token.header_value().is_sensitive());
            assert!(!token.expires_in().is_zero() && token.expires_in() <= MAX_LIFETIME);
            assert!(!format!("{token:?}").contains(secret) || secret.len() < 4);
        }
        Err(error) => {
            let text = format!("{error} {error:?}");
            assert!(
                text.len() < 512,
                "an error this long may be quoting the body"
            );
            // Whatever the body called its token, the error does not repeat it.
            if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) {
                if let Some(serde_json::Value::String(token)) = fields.get("accessToken") {
                    if token.len() >= 12 {
                        assert!(!text.contains(token.as_str()), "error quotes the token");
                    }
                }
            }
        }
    }
});
