//! `symbl.conf`: the INI file Symbl's Python SDK reads its credentials from.
//!
//! ```ini
//! [credentials]
//! app_id=1234567890
//! app_secret=abcdefghijkl
//! ```
//!
//! The SDK (`symbl/AuthenticationToken.py`, `fetchAppCredentialsFromFiles`) reads it with
//! `configparser.ConfigParser()` and `read_file`, checks `has_option` for both keys in
//! `[credentials]`, and takes them with `get`. [`parser`] and [`interpolation`] do what those
//! calls do, so a file gives the same two values here as there (`tests/symbl_conf_python.rs`
//! checks a corpus against `python3`).
//!
//! Where the SDK fails on a file we may be more lenient, never the other way round: a UTF-8
//! byte order mark is skipped and UTF-16 with a byte order mark is read (the SDK's text-mode
//! `open` refuses both). We are stricter in two places only: a file over 64 KiB, and a value
//! whose interpolation grows past 64 KiB or 100,000 references.
//!
//! No error quotes the file, and every buffer that held its text is zeroed when dropped.

mod interpolation;
mod parser;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::path::Path;

use secrecy::zeroize::Zeroizing;

pub(super) use self::parser::ConfigParser;
use super::Credentials;
use crate::Error;

/// The file's name, in the working directory and in the home directory.
pub(super) const FILE_NAME: &str = "symbl.conf";

const SECTION: &str = "credentials";
const APP_ID: &str = "app_id";
const APP_SECRET: &str = "app_secret";

/// A `symbl.conf` is a few lines; anything larger is not one.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// [`Credentials::from_symbl_conf`]: the credentials in the file at `path`, or why not.
pub(super) fn read(path: &Path) -> Result<Credentials, Error> {
    let mut parser = ConfigParser::default();
    read_into(&mut parser, path)?;
    credentials(&parser)
        .map_err(|reason| Error::credentials_file(path, reason))?
        .ok_or_else(|| Error::credentials_file(path, missing(&parser)))
}

/// `config_parser.read_file(open(path))`: the file read into `parser`, on top of what it
/// holds already.
pub(super) fn read_into(parser: &mut ConfigParser, path: &Path) -> Result<(), Error> {
    let bytes = read_limited(path)?;
    let text = decode(&bytes).map_err(|reason| Error::credentials_file(path, reason))?;
    parser
        .read(&text)
        .map_err(|error| Error::credentials_file(path, error.to_string()))
}

/// The SDK's two `has_option` checks, then its two `get`s: `None` when a key is missing,
/// an error when a value cannot be read or is empty (the SDK then raises
/// `ValueError('app_id is required')`).
pub(super) fn credentials(parser: &ConfigParser) -> Result<Option<Credentials>, String> {
    if !(parser.has_option(SECTION, APP_ID) && parser.has_option(SECTION, APP_SECRET)) {
        return Ok(None);
    }
    let get = |key: &str| match parser.get(SECTION, key) {
        None => Err(format!("[{SECTION}] has no {key}")),
        Some(Err(error)) => Err(format!("{key} in [{SECTION}] {error}")),
        Some(Ok(value)) if value.is_empty() => Err(format!("{key} is empty in [{SECTION}]")),
        Some(Ok(value)) => Ok(value),
    };
    let (app_id, app_secret) = (get(APP_ID)?, get(APP_SECRET)?);
    // Copies of the exact size: a `SecretString` made from them keeps the same buffer.
    Ok(Some(Credentials::new(app_id.as_str(), app_secret.as_str())))
}

/// What a file that [`credentials`] found nothing in lacks, in words.
pub(super) fn missing(parser: &ConfigParser) -> String {
    if !parser.sections.contains_key(SECTION) {
        return format!("it has no [{SECTION}] section");
    }
    let lacking: Vec<_> = [APP_ID, APP_SECRET]
        .into_iter()
        .filter(|key| !parser.has_option(SECTION, key))
        .collect();
    format!("[{SECTION}] has no {}", lacking.join(" and no "))
}

/// The file's bytes, zeroed when dropped. One buffer of the limit's size, so reading never
/// moves the secret and leaves a copy behind.
fn read_limited(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let unreadable = |error: std::io::Error| {
        Error::credentials_file(path, "it cannot be read").with_source(error)
    };
    let file = open_regular(path).map_err(|error| match error {
        Opened::Io(error) => unreadable(error),
        Opened::NotRegular => Error::credentials_file(path, "it is not a regular file"),
    })?;
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

enum Opened {
    Io(std::io::Error),
    NotRegular,
}

/// Opens `path` if it is a regular file. A FIFO is opened without blocking (a FIFO with no
/// writer would make a plain `open` wait forever) and then refused, as are directories,
/// sockets and devices: the SDK reads only what `os.path.isfile` accepts.
fn open_regular(path: &Path) -> Result<File, Opened> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // POSIX `open`: with O_NONBLOCK, opening a FIFO returns at once. It changes nothing for a
    // regular file; elsewhere the check below still refuses what is not one.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(Opened::Io)?;
    match file.metadata() {
        Ok(metadata) if metadata.is_file() => Ok(file),
        Ok(_) => Err(Opened::NotRegular),
        Err(error) => Err(Opened::Io(error)),
    }
}

/// The file's text: UTF-8 (after a byte order mark, if any), or UTF-16 after its byte order
/// mark (Windows editors write it). Zeroed when dropped.
fn decode(bytes: &[u8]) -> Result<Zeroizing<String>, &'static str> {
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return decode_utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return decode_utf16(rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text")?;
    Ok(Zeroizing::new(String::from(text)))
}

/// UTF-16 into a buffer that is large enough from the start (a unit is at most three bytes
/// of UTF-8, a surrogate pair four), so it never moves.
fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<Zeroizing<String>, &'static str> {
    const INVALID: &str = "it is not valid UTF-16 text";
    if !bytes.len().is_multiple_of(2) {
        return Err(INVALID);
    }
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    let mut text = Zeroizing::new(String::with_capacity(bytes.len() / 2 * 3));
    for c in char::decode_utf16(units) {
        text.push(c.map_err(|_| INVALID)?);
    }
    Ok(text)
}
