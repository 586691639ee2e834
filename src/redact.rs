//! URLs as this crate prints them: no userinfo and no query, which can hold a key or a token.

use std::borrow::Cow;

/// `url` without its userinfo (`user:pass@`), query (`?access_token=…`) and fragment, each
/// replaced by a marker, for `Debug` output, errors and logs.
pub(crate) fn redact_url(url: &str) -> Cow<'_, str> {
    let cut = url.find(['?', '#']);
    let (head, tail) = cut.map_or((url, ""), |at| url.split_at(at));
    let authority_start = head.find("://").map_or(0, |at| at + 3);
    let authority_end = head[authority_start..]
        .find('/')
        .map_or(head.len(), |at| authority_start + at);
    let userinfo = head[authority_start..authority_end].rfind('@');
    if userinfo.is_none() && tail.is_empty() {
        return Cow::Borrowed(url);
    }
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(&head[..authority_start]);
    match userinfo {
        Some(at) => {
            redacted.push_str("[redacted]@");
            redacted.push_str(&head[authority_start + at + 1..]);
        }
        None => redacted.push_str(&head[authority_start..]),
    }
    if !tail.is_empty() {
        redacted.push_str(if tail.starts_with('?') {
            "?[redacted]"
        } else {
            "#[redacted]"
        });
    }
    Cow::Owned(redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_urls_as_they_are() {
        for url in [
            "https://api.symbl.ai/oauth2/token:generate",
            "http://127.0.0.1:8080/x",
            "wss://api.symbl.ai/v1/streaming/abc",
            "/relative",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn hides_userinfo_query_and_fragment() {
        assert_eq!(
            redact_url("https://user:pw@host:1/token?key=SECRET"),
            "https://[redacted]@host:1/token?[redacted]"
        );
        assert_eq!(
            redact_url("wss://api.symbl.ai/v1/streaming/id?access_token=SECRET"),
            "wss://api.symbl.ai/v1/streaming/id?[redacted]"
        );
        assert_eq!(
            redact_url("https://host/p#SECRET"),
            "https://host/p#[redacted]"
        );
        assert_eq!(
            redact_url("https://a@b@host/p"),
            "https://[redacted]@host/p"
        );
    }
}
