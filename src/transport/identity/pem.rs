//! Just enough PEM (RFC 7468) for a certificate chain and its private key: the blocks in order,
//! each a label and its DER. Text between blocks is ignored (§5.2). Never panics on bad input,
//! and no error quotes the input (it may be a private key).

use base64::Engine as _;

use crate::Error;

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block.
pub(super) struct Block {
    pub(super) label: String,
    pub(super) der: Vec<u8>,
}

/// The blocks of `text`, in order; `what` names the input in errors ("the certificate chain").
pub(super) fn blocks(text: &[u8], what: &str) -> Result<Vec<Block>, Error> {
    let text = std::str::from_utf8(text)
        .map_err(|_| Error::config(format!("ClientIdentity: {what} is not PEM text")))?;
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines().map(str::trim) {
        match &mut open {
            None => {
                if let Some(label) = boundary(line, "BEGIN") {
                    open = Some((label.to_owned(), String::new()));
                }
            }
            Some((label, body)) => {
                if let Some(end) = boundary(line, "END") {
                    if end != label {
                        return Err(malformed(what));
                    }
                    if body.contains(':') {
                        // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`): an encrypted key.
                        return Err(encrypted(what));
                    }
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(body.as_bytes())
                        .map_err(|_| malformed(what))?;
                    blocks.push(Block {
                        label: std::mem::take(label),
                        der,
                    });
                    open = None;
                } else if line.contains(':') {
                    body.push(':');
                } else {
                    body.push_str(line);
                }
            }
        }
    }
    if open.is_some() {
        return Err(malformed(what));
    }
    Ok(blocks)
}

/// The label of a `-----BEGIN LABEL-----` (or END) line.
fn boundary<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

fn malformed(what: &str) -> Error {
    Error::config(format!(
        "ClientIdentity: {what} is not valid PEM (a BEGIN line without its END, or bad base64)"
    ))
}

pub(super) fn encrypted(what: &str) -> Error {
    Error::config(format!(
        "ClientIdentity: {what} is an encrypted private key, which is not supported: decrypt \
         it first (openssl pkcs8 -topk8 -nocrypt)"
    ))
}

/// `der` as a PEM block with `label`, lines of 64 characters.
pub(super) fn encode(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        // base64 is ASCII: every chunk is UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
