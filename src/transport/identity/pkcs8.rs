//! For native-tls, which takes PKCS#8 keys only: a PKCS#1 (RSA) or SEC1 (EC) key wrapped in
//! PKCS#8's `PrivateKeyInfo` (RFC 5208 §5; RFC 8017 A.1 for RSA, RFC 5915 §3 for EC).

use crate::der::{expect, tlv, INTEGER, OCTET_STRING, OID, SEQUENCE};
use crate::Error;

const NULL: u8 = 0x05;
/// `[0]`, the `parameters` of a SEC1 `ECPrivateKey`: the curve.
const EC_PARAMETERS: u8 = 0xa0;

/// 1.2.840.113549.1.1.1, rsaEncryption.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1, id-ecPublicKey.
const EC_PUBLIC_KEY: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// A PKCS#1 `RSAPrivateKey` as PKCS#8.
pub(super) fn from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let algorithm = tlv(
        SEQUENCE,
        &[tlv(OID, &RSA_ENCRYPTION), tlv(NULL, &[])].concat(),
    );
    private_key_info(&algorithm, pkcs1)
}

/// A SEC1 `ECPrivateKey` as PKCS#8, its curve taken from its `parameters`; a key without
/// them is refused (PKCS#8 must name the curve).
pub(super) fn from_sec1(sec1: &[u8]) -> Result<Vec<u8>, Error> {
    let curve = curve(sec1).ok_or_else(|| {
        Error::config(
            "ClientIdentity: an EC PRIVATE KEY without its curve (parameters) cannot be given \
             to native-tls: convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)",
        )
    })?;
    let algorithm = tlv(
        SEQUENCE,
        &[tlv(OID, &EC_PUBLIC_KEY), tlv(OID, curve)].concat(),
    );
    Ok(private_key_info(&algorithm, sec1))
}

/// The named curve's OID in `ECPrivateKey ::= SEQUENCE { version, privateKey, [0] parameters
/// OPTIONAL, [1] publicKey OPTIONAL }`.
fn curve(sec1: &[u8]) -> Option<&[u8]> {
    let (body, _) = expect(SEQUENCE, sec1)?;
    let (_, rest) = expect(INTEGER, body)?;
    let (_, rest) = expect(OCTET_STRING, rest)?;
    let (parameters, _) = expect(EC_PARAMETERS, rest)?;
    let (oid, _) = expect(OID, parameters)?;
    Some(oid)
}

fn private_key_info(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let version = tlv(INTEGER, &[0]);
    tlv(
        SEQUENCE,
        &[version, algorithm.to_vec(), tlv(OCTET_STRING, key)].concat(),
    )
}
