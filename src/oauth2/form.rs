//! `application/x-www-form-urlencoded` (the token request's body, and the Basic credentials of
//! RFC 6749 §2.3.1).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What `application/x-www-form-urlencoded` leaves as it is: the unreserved characters. A space
/// becomes `%20`, not `+`: form decoders read both, but servers that percent-decode the Basic
/// credentials (Authlib does) read `+` as a plus, so `%20` is the one both kinds agree on.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(super) fn encode(value: &str) -> String {
    utf8_percent_encode(value, FORM).to_string()
}

/// An `application/x-www-form-urlencoded` body.
#[derive(Default)]
pub(super) struct Form(pub(super) String);

impl Form {
    pub(super) fn pair(&mut self, name: &str, value: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.extend(utf8_percent_encode(name, FORM));
        self.0.push('=');
        self.0.extend(utf8_percent_encode(value, FORM));
    }
}
