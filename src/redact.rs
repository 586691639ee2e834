//! URLs as this crate prints them: no userinfo and no query, which can hold a key or a token.
//! [`redact_url`] is the one rule, used wherever a URL (or an `allow_host` argument, or an
//! error's text that quotes one) is printed.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What stands in for each part taken out.
const REDACTED: &str = "[redacted]";

/// `url` without its userinfo (`user:pass@`), query (`?access_token=…`) and fragment, each
/// replaced by `[redacted]`, for `Debug` output, errors and logs. Never fails: any text is
/// taken, URL or not.
///
/// The rule, after the scheme (`https://`, kept; letters, digits, `+-.`, as RFC 3986 §3.1):
/// - no `@` in the rest: no userinfo; the query (from the first `?`) and the fragment (from
///   the first `#`) are replaced, the host and path kept;
/// - an `@` with none of `/`, `?`, `#` before the last one: everything up to that last `@` is
///   the userinfo (a password may hold an `@`), then as above;
/// - an `@` after a `/`, `?` or `#`: either a password with a reserved character in it
///   (`svc:Tr0ub4dor#3@host`, which RFC 3986 §3.2.1 says to percent-encode but a user may
///   not) or an `@` in the path, query or fragment (`?mail=a@b`). The two cannot be told
///   apart, and what follows the `@` may be either a host or part of a secret, so everything
///   after the scheme is replaced: when in doubt, redact more.
pub(crate) fn redact_url(url: &str) -> Cow<'_, str> {
    let start = scheme_end(url);
    let rest = &url[start..];
    let (userinfo, rest) = match rest.rfind('@') {
        None => (false, rest),
        Some(at) if !rest[..at].contains(['/', '?', '#']) => (true, &rest[at + 1..]),
        Some(_) => return Cow::Owned(format!("{}{REDACTED}", &url[..start])),
    };
    let cut = rest.find(['?', '#']);
    if !userinfo && cut.is_none() {
        return Cow::Borrowed(url);
    }
    let (kept, tail) = cut.map_or((rest, ""), |at| rest.split_at(at));
    let mut redacted = String::with_capacity(url.len());
    redacted.push_str(&url[..start]);
    if userinfo {
        redacted.push_str(REDACTED);
        redacted.push('@');
    }
    redacted.push_str(kept);
    if let Some(mark) = tail.chars().next() {
        redacted.push(mark);
        redacted.push_str(REDACTED);
    }
    Cow::Owned(redacted)
}

/// Where the authority begins: after a scheme and its `://`, or at 0 when `url` does not
/// begin with one (a bare host, or text whose first `://` follows something that is no
/// scheme, such as a password).
fn scheme_end(url: &str) -> usize {
    let Some(at) = url.find("://") else {
        return 0;
    };
    let scheme = &url[..at];
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if valid {
        at + 3
    } else {
        0
    }
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
    fn a_password_with_reserved_characters_is_never_printed() {
        for url in [
            "https://svc:Tr0ub4dor#3@host/oauth2/token",
            "https://svc:Tr0ub4dor?3@host/oauth2/token",
            "https://svc:Tr0/ub4dor@host/oauth2/token",
            "https://u:p/a?b#c@host/path?q#f",
            "u:p://x@host",
        ] {
            let shown = redact_url(url);
            assert!(
                !shown.contains("Tr0") && !shown.contains("ub4") && !shown.contains("p/a"),
                "{url} -> {shown}"
            );
            assert!(shown.ends_with("[redacted]"), "{url} -> {shown}");
        }
        // An `@` in a query may come before a secret: the same rule, everything redacted.
        assert_eq!(
            redact_url("https://host/p?mail=a@b.example&token=SECRET"),
            "https://[redacted]"
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

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// Text for a password or a query, between markers made of characters the middle never
        /// holds, so that any piece of it printed shows as a marker (a one-letter password
        /// would be found in any output).
        fn secret(start: &'static str, end: &'static str) -> impl Strategy<Value = String> {
            "[a-z0-9#?/@:%&=.~+-]{0,12}".prop_map(move |middle| format!("{start}{middle}{end}"))
        }

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 4_000,
                // Deterministic: the same cases on every run; a failure prints its input.
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x7ed_ac7),
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn no_password_query_or_fragment_text_is_ever_printed(
                scheme in prop_oneof![Just("https://"), Just("wss://"), Just("")],
                user in "[a-z0-9#?/@:%.]{0,6}",
                password in secret("PWA", "PWZ"),
                host in "[a-z0-9.-]{1,12}(:[0-9]{1,5})?",
                path in "(/[a-z0-9:@._-]{0,8}){0,3}",
                query in proptest::option::of(secret("QA", "QZ")),
                fragment in proptest::option::of(secret("FA", "FZ")),
            ) {
                let mut url = format!("{scheme}{user}:{password}@{host}{path}");
                if let Some(query) = &query {
                    url.push('?');
                    url.push_str(query);
                }
                if let Some(fragment) = &fragment {
                    url.push('#');
                    url.push_str(fragment);
                }
                let shown = redact_url(&url);
                for marker in ["PWA", "PWZ", "QA", "QZ", "FA", "FZ"] {
                    prop_assert!(!shown.contains(marker), "{} -> {}", url, shown);
                }
                prop_assert!(shown.starts_with(scheme), "{} -> {}", url, shown);
                // In free text, the same.
                let text = format!("failed: {url} (retrying)");
                let shown = redact_urls_in(&text);
                for marker in ["PWA", "PWZ", "QA", "QZ", "FA", "FZ"] {
                    prop_assert!(
                        !shown.contains(marker) || scheme.is_empty(),
                        "{} -> {}", text, shown
                    );
                }
            }

            #[test]
            fn a_query_or_fragment_is_never_printed_whatever_it_holds(
                host in "[a-z0-9.-]{1,12}",
                path in "(/[a-z0-9._-]{0,8}){0,3}",
                query in secret("QA", "QZ"),
                mark in prop_oneof![Just('?'), Just('#')],
            ) {
                let url = format!("https://{host}{path}{mark}{query}");
                let shown = redact_url(&url);
                prop_assert!(!shown.contains("QA") && !shown.contains("QZ"), "{} -> {}", url, shown);
            }

            #[test]
            fn a_url_without_userinfo_query_or_fragment_is_unchanged(
                scheme in prop_oneof![Just("https://"), Just("http://"), Just("wss://"), Just("")],
                host in "([a-z0-9.-]{1,12}|\\[[0-9a-f:]{2,12}\\])(:[0-9]{1,5})?",
                path in "(/[a-z0-9:._~%!$&'()*+,;=-]{0,8}){0,3}",
            ) {
                let url = format!("{scheme}{host}{path}");
                prop_assert_eq!(redact_url(&url), url.as_str());
            }
        }
    }
}
