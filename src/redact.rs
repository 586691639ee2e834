//! URLs as this crate prints them: no userinfo and no query, which can hold a key or a token.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

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

/// `text` with every URL in it (`scheme://…` up to whitespace or a quote) passed through
/// [`redact_url`]: for the words of errors this crate did not write.
pub(crate) fn redact_urls_in(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |before| before + 1);
        let end = rest[at..].find(ends).map_or(rest.len(), |len| at + len);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// An error chain written out with [`redact_urls_in`] applied to each link: the source of an
/// [`Error`](crate::Error) that wraps an error from code outside this crate (the app's own
/// token client), which may quote a URL with a key in it.
#[derive(Clone)]
pub(crate) struct RedactedError {
    message: String,
    source: Option<Box<RedactedError>>,
}

impl RedactedError {
    pub(crate) fn new(error: &(dyn StdError + 'static)) -> Self {
        let links: Vec<String> = causes(error)
            .map(|cause| redact_urls_in(&cause.to_string()).into_owned())
            .collect();
        let mut chain = None;
        for message in links.into_iter().rev() {
            chain = Some(Self {
                message,
                source: chain.map(Box::new),
            });
        }
        chain.unwrap_or_else(|| Self {
            message: String::new(),
            source: None,
        })
    }
}

impl fmt::Display for RedactedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for RedactedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)?;
        if let Some(source) = &self.source {
            write!(f, " (caused by {source:?})")?;
        }
        Ok(())
    }
}

impl StdError for RedactedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// `error` and its causes, including what an `io::Error` wraps (whose `source()` skips it).
pub(crate) fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static));
        next = wrapped.or_else(|| current.source());
        Some(current)
    })
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

    #[test]
    fn hides_every_url_in_free_text() {
        assert_eq!(
            redact_urls_in("error sending to https://u:pw@h/t?k=SECRET: refused (see http://x/y)"),
            "error sending to https://[redacted]@h/t?[redacted] refused (see http://x/y)"
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
        assert_eq!(
            redact_urls_in("\"https://h/?a=SECRET\""),
            "\"https://h/?[redacted]\""
        );
    }

    #[test]
    fn a_redacted_chain_keeps_each_link_without_its_secrets() {
        let inner = std::io::Error::other("dns failed for https://h/?key=SECRET");
        let outer = std::io::Error::other(inner);
        let redacted = RedactedError::new(&outer);
        let mut texts = vec![redacted.to_string()];
        let mut next = redacted.source();
        while let Some(link) = next {
            texts.push(link.to_string());
            next = link.source();
        }
        assert!(
            texts.iter().all(|text| !text.contains("SECRET")),
            "{texts:?}"
        );
        assert!(texts[0].contains("https://h/?[redacted]"), "{texts:?}");
        assert!(!format!("{redacted:?}").contains("SECRET"));
    }
}
