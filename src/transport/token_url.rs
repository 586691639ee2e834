//! The checks on a token URL, shared by the builder and the built-in sources: a URL the
//! credentials may be sent to.

use http::Uri;

use crate::cleartext::may_travel;
use crate::Error;

/// The host of a valid token URL, lowercased. `setting` names the setting that would allow a
/// plain `http://` URL to a host that is not loopback, for the error.
pub(crate) fn check_token_url(
    url: &str,
    allow_insecure_http: bool,
    setting: &'static str,
) -> Result<String, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::config("token_url is not a valid URL"))?;
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(Error::config(
            "token_url must be an absolute http or https URL",
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Error::config("token_url must be an http or https URL"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(Error::config("token_url must not contain credentials"));
    }
    if !may_travel(Some(scheme), host, allow_insecure_http) {
        return Err(Error::InsecureTransport {
            host: host.to_owned(),
            setting,
        });
    }
    Ok(host.to_ascii_lowercase())
}
