//! Reading a token endpoint's answer under a size cap.

use http_body_util::BodyExt;

use super::failure::failure_with;
use super::Answer;
use crate::Error;

/// The largest token response read, by every built-in source. Symbl's is ~1 KiB, an OAuth2
/// server's rarely more than a few; a larger body is a broken endpoint, and reading it whole
/// would let it exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The whole body, up to [`MAX_RESPONSE_BYTES`]: a larger one is a broken endpoint, and reading
/// it whole would let it exhaust memory.
pub(crate) async fn read_body(answer: Answer) -> Result<Vec<u8>, Error> {
    let mut body = answer.into_body();
    if http_body::Body::size_hint(&body).lower() > MAX_RESPONSE_BYTES as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            failure_with(
                err,
                "the connection failed while reading the token response",
            )
        })?;
        if let Ok(chunk) = frame.into_data() {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

pub(crate) fn too_large() -> Error {
    Error::bad_token_response(format!(
        "the body is larger than {MAX_RESPONSE_BYTES} bytes"
    ))
}
