//! `symbl.conf`: the INI file Symbl's Python SDK reads its credentials from.
//!
//! ```ini
//! [credentials]
//! app_id=1234567890        # inline comments after whitespace are stripped
//! app_secret=abcdefghijkl  ; with either prefix
//! ```
//!
//! Read as Python's `configparser` reads it with `#` and `;` as comment and inline comment
//! prefixes: lines are trimmed; a line starting with `#` or `;` is a comment; `#` or `;` after
//! whitespace starts an inline comment (so a `#` inside a value is kept); keys are
//! case-insensitive and end at the first `=` or `:`; the section name is case-sensitive; a key
//! or section given twice is an error, as with Python's strict parser. Values are taken
//! literally: no quotes removed, no `%` interpolation, no multi-line values.
//!
//! A few dozen lines do this, instead of an INI crate: the crates at hand either cut a value at any
//! `#` or `;` (a secret that holds one would be silently truncated) or bring a dependency tree
//! for two keys. Here no error quotes a line of the file, and the bytes read are zeroed once
//! parsed.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use secrecy::zeroize::Zeroizing;

use super::Credentials;
use crate::Error;

/// The file's name, in the working directory and in the home directory.
pub(super) const FILE_NAME: &str = "symbl.conf";

const SECTION: &str = "credentials";
const APP_ID: &str = "app_id";
const APP_SECRET: &str = "app_secret";

/// A `symbl.conf` is a few lines; anything larger is not one.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Reads the credentials in the file at `path`.
pub(super) fn read(path: &Path) -> Result<Credentials, Error> {
    let text = read_limited(path)?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| Error::credentials_file(path, "it is not UTF-8 text"))?;
    let (app_id, app_secret) =
        parse(text).map_err(|reason| Error::credentials_file(path, reason))?;
    Ok(Credentials::new(app_id, app_secret))
}

/// The file's bytes, zeroed when dropped. One buffer of the limit's size, so reading never
/// moves the secret and leaves a copy behind.
fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let unreadable = |error: std::io::Error| {
        Error::credentials_file(path, "it cannot be read").with_source(error)
    };
    let file = File::open(path).map_err(unreadable)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_FILE_BYTES as usize + 1));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::credentials_file(
            path,
            format!("it is larger than {MAX_FILE_BYTES} bytes: not a symbl.conf"),
        ));
    }
    Ok(bytes)
}

/// `app_id` and `app_secret` from the `[credentials]` section of `text`, or what is wrong, in
/// words that never quote the file.
fn parse(text: &str) -> Result<(&str, &str), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut section = None;
    let mut seen_credentials = false;
    let (mut app_id, mut app_secret) = (None, None);
    for (number, line) in (1..).zip(text.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let line = without_inline_comment(line);
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| format!("line {number}: a section header must end with ']'"))?;
            if name == SECTION {
                if seen_credentials {
                    return Err(format!("line {number}: a second [{SECTION}] section"));
                }
                seen_credentials = true;
            }
            section = Some(name);
            continue;
        }
        let Some(at) = line.find(['=', ':']) else {
            return Err(format!("line {number}: expected `key = value`"));
        };
        match section {
            None => return Err(format!("line {number}: a key before any [section]")),
            Some(SECTION) => {}
            Some(_) => continue,
        }
        let key = line[..at].trim();
        let slot = if key.eq_ignore_ascii_case(APP_ID) {
            (&mut app_id, APP_ID)
        } else if key.eq_ignore_ascii_case(APP_SECRET) {
            (&mut app_secret, APP_SECRET)
        } else {
            continue;
        };
        if slot.0.replace(line[at + 1..].trim()).is_some() {
            return Err(format!("line {number}: {} is set twice", slot.1));
        }
    }
    if !seen_credentials {
        return Err(format!("it has no [{SECTION}] section"));
    }
    Ok((required(app_id, APP_ID)?, required(app_secret, APP_SECRET)?))
}

fn required<'a>(value: Option<&'a str>, key: &str) -> Result<&'a str, String> {
    match value {
        None => Err(format!("[{SECTION}] has no {key}")),
        Some("") => Err(format!("{key} is empty in [{SECTION}]")),
        Some(value) => Ok(value),
    }
}

/// `line` up to a `#` or `;` that follows whitespace, trimmed.
fn without_inline_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let comment = (1..bytes.len())
        .find(|&at| matches!(bytes[at], b'#' | b';') && bytes[at - 1].is_ascii_whitespace());
    comment.map_or(line, |at| line[..at].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credentials_section_as_symbls_sdk_writes_it() {
        let text = "[credentials]\napp_id=1234567890\napp_secret=abcdefghijklmnop\n";
        assert_eq!(parse(text), Ok(("1234567890", "abcdefghijklmnop")));
    }

    #[test]
    fn strips_comments_blank_lines_and_whitespace() {
        let text =
            "\u{feff}# Symbl credentials\n; from the platform\n\n[other]\napp_id = not-this\n\
                    [credentials]   # the one read\n  APP_ID = id-1 #Update with your app_id\n\
                    App_Secret:  s#cr;t  ; inline\nregion = us\n";
        assert_eq!(parse(text), Ok(("id-1", "s#cr;t")));
    }

    #[test]
    fn takes_values_literally() {
        let text = "[credentials]\napp_id='quoted'\napp_secret=a=b:c%d\n";
        assert_eq!(parse(text), Ok(("'quoted'", "a=b:c%d")));
    }

    #[test]
    fn says_what_is_missing_or_malformed_without_quoting_the_file() {
        for (text, says) in [
            ("", "no [credentials] section"),
            (
                "[Credentials]\napp_id=x\napp_secret=y\n",
                "no [credentials] section",
            ),
            ("[credentials]\napp_id=x\n", "has no app_secret"),
            ("[credentials]\napp_secret=SECRET-1\n", "has no app_id"),
            (
                "[credentials]\napp_id=\napp_secret=SECRET-1\n",
                "app_id is empty",
            ),
            (
                "[credentials]\napp_id=x # only a comment\napp_secret= ; none\n",
                "app_secret is empty",
            ),
            (
                "app_secret=SECRET-1\n[credentials]\n",
                "line 1: a key before any [section]",
            ),
            (
                "[credentials\napp_secret=SECRET-1\n",
                "line 1: a section header must end",
            ),
            (
                "[credentials]\nSECRET-1\n",
                "line 2: expected `key = value`",
            ),
            (
                "[credentials]\napp_secret=SECRET-1\napp_secret=SECRET-1\n",
                "line 3: app_secret is set twice",
            ),
            (
                "[credentials]\napp_id=x\n[credentials]\n",
                "line 3: a second [credentials] section",
            ),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(says), "{text:?}: {error}");
            assert!(!error.contains("SECRET-1"), "{error}");
        }
    }
}
