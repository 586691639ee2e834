//! Just enough DER (X.690) for keys: writing the private keys a JWK describes (SEC1, PKCS#1,
//! PKCS#8) and reading public keys (SPKI) and ECDSA signatures (`oauth2`), and wrapping a
//! PKCS#1 or SEC1 key in PKCS#8 for native-tls (`transport::identity`). Never panics on bad
//! input.
// Under native-tls alone only the wrapping is used.
#![cfg_attr(not(tls_rustls), allow(dead_code))]

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OID: u8 = 0x06;

/// A tag-length-value with `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// An unsigned big-endian number as a DER INTEGER: leading zeros dropped, one added back when
/// the high bit is set (a DER INTEGER is signed).
pub(crate) fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let digits = &bytes[skip..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    tlv(INTEGER, &content)
}

/// Reads one tag-length-value: its tag, its content and what follows it.
pub(crate) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, b| (len << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Reads one element that must have `tag`.
pub(crate) fn expect(tag: u8, input: &[u8]) -> Option<(&[u8], &[u8])> {
    match read(input)? {
        (found, content, rest) if found == tag => Some((content, rest)),
        _ => None,
    }
}

/// The digits of an unsigned INTEGER's content, without leading zeros.
pub(crate) fn digits(content: &[u8]) -> &[u8] {
    let skip = content.iter().take_while(|b| **b == 0).count();
    &content[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(OCTET_STRING, &content);
            let (tag, read_back, rest) = read(&encoded).expect("reads");
            assert_eq!(
                (tag, read_back, rest),
                (OCTET_STRING, &content[..], &[][..])
            );
        }
        assert_eq!(unsigned(&[0, 0, 0x80]), vec![INTEGER, 2, 0, 0x80]);
        assert_eq!(unsigned(&[0x01]), vec![INTEGER, 1, 1]);
        assert_eq!(unsigned(&[]), vec![INTEGER, 1, 0]);
        assert_eq!(digits(&[0, 0, 5]), &[5]);
    }

    #[test]
    fn truncated_input_is_none_not_a_panic() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 1],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x80],
        ] {
            assert!(read(bad).is_none(), "{bad:?}");
        }
    }
}
