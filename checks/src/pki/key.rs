//! Private keys, reduced at once to the public half needed to match them to a certificate.
//!
//! The model never holds private key bytes: a key is read, its public key extracted, and the
//! private bytes dropped. Only the public key and the algorithm survive (`KeyFacts`).

use serde::{Deserialize, Serialize};

use super::certificate::{Certificate, sha256_hex};
use super::pem::PemBlock;

/// What the model remembers of a private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFacts {
    /// `RSA`, `EC`, `Ed25519` or `unknown`.
    pub algorithm: String,
    /// SHA-256 of the public key this private key belongs to (of the RSA modulus for RSA keys,
    /// of the public point for EC keys); `None` when it could not be derived.
    pub public_fingerprint: Option<String>,
}

impl KeyFacts {
    /// Reads a private key PEM block. The block's bytes are not retained.
    pub fn from_block(block: &PemBlock) -> Result<KeyFacts, String> {
        let der = &block.der;
        match block.label.as_str() {
            "RSA PRIVATE KEY" => rsa_pkcs1(der),
            "EC PRIVATE KEY" => ec_sec1(der),
            "PRIVATE KEY" => pkcs8(der),
            "ENCRYPTED PRIVATE KEY" => Err("the private key is encrypted".into()),
            other => Err(format!("unsupported key type `{other}`")),
        }
    }

    /// Whether this key belongs to `cert`.
    pub fn matches(&self, cert: &Certificate) -> Option<bool> {
        let mine = self.public_fingerprint.as_ref()?;
        Some(match self.algorithm.as_str() {
            "RSA" => rsa_modulus_of_public_key(cert.public_key_bits())
                .is_some_and(|n| &sha256_hex(n) == mine),
            _ => &sha256_hex(cert.public_key_bits()) == mine,
        })
    }
}

/// `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }`
fn rsa_pkcs1(der: &[u8]) -> Result<KeyFacts, String> {
    let fields = sequence(der).ok_or("RSA key is not a DER sequence")?;
    let modulus = fields
        .get(1)
        .filter(|t| t.tag == INTEGER)
        .ok_or("RSA key has no modulus")?;
    Ok(KeyFacts {
        algorithm: "RSA".into(),
        public_fingerprint: Some(sha256_hex(strip_zeros(modulus.value))),
    })
}

/// `ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] params, [1] publicKey BIT STRING }`
fn ec_sec1(der: &[u8]) -> Result<KeyFacts, String> {
    let fields = sequence(der).ok_or("EC key is not a DER sequence")?;
    let public = fields
        .iter()
        .find(|t| t.tag == 0xa1)
        .and_then(|t| tlv(t.value))
        .filter(|(t, _)| t.tag == BIT_STRING)
        .and_then(|(t, _)| t.value.get(1..));
    Ok(KeyFacts {
        algorithm: "EC".into(),
        public_fingerprint: public.map(sha256_hex),
    })
}

/// `PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING, ... }`
fn pkcs8(der: &[u8]) -> Result<KeyFacts, String> {
    let fields = sequence(der).ok_or("PKCS#8 key is not a DER sequence")?;
    let algorithm = fields
        .get(1)
        .and_then(|a| sequence_of(a))
        .and_then(|a| a.first().map(|oid| oid.value.to_vec()))
        .ok_or("PKCS#8 key has no algorithm")?;
    let inner = fields
        .get(2)
        .filter(|t| t.tag == OCTET_STRING)
        .ok_or("PKCS#8 key has no key octets")?
        .value;
    match algorithm.as_slice() {
        OID_RSA => rsa_pkcs1(inner),
        OID_EC => {
            let facts = ec_sec1(inner)?;
            if facts.public_fingerprint.is_some() {
                Ok(facts)
            } else {
                Ok(KeyFacts {
                    algorithm: "EC".into(),
                    public_fingerprint: ec_public_from_ring(der).map(|p| sha256_hex(&p)),
                })
            }
        }
        OID_ED25519 => {
            use ring::signature::KeyPair;
            let public = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .ok()
                .map(|k| sha256_hex(k.public_key().as_ref()));
            Ok(KeyFacts {
                algorithm: "Ed25519".into(),
                public_fingerprint: public,
            })
        }
        _ => Ok(KeyFacts {
            algorithm: "unknown".into(),
            public_fingerprint: None,
        }),
    }
}

/// PKCS#8 EC keys may omit the public point; ring recomputes it.
fn ec_public_from_ring(pkcs8: &[u8]) -> Option<Vec<u8>> {
    use ring::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    };
    let rng = ring::rand::SystemRandom::new();
    [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
    ]
    .into_iter()
    .find_map(|alg| EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng).ok())
    .map(|k| k.public_key().as_ref().to_vec())
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
fn rsa_modulus_of_public_key(bits: &[u8]) -> Option<&[u8]> {
    let fields = sequence(bits)?;
    fields
        .first()
        .filter(|t| t.tag == INTEGER)
        .map(|t| strip_zeros(t.value))
}

fn strip_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// One DER tag-length-value.
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

/// Reads one TLV; returns it and the bytes after it. Definite lengths only, as DER requires.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((
        Tlv {
            tag,
            value: &rest[..len],
        },
        &rest[len..],
    ))
}

fn sequence(der: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let (outer, _) = tlv(der)?;
    sequence_of(&outer)
}

fn sequence_of<'a>(outer: &Tlv<'a>) -> Option<Vec<Tlv<'a>>> {
    if outer.tag != SEQUENCE {
        return None;
    }
    let mut items = Vec::new();
    let mut rest = outer.value;
    while !rest.is_empty() {
        let (item, next) = tlv(rest)?;
        items.push(item);
        rest = next;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keys_are_errors_not_panics() {
        for der in [
            &b""[..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x03, 0x02, 0x01],
        ] {
            let block = PemBlock {
                label: "RSA PRIVATE KEY".into(),
                der: der.to_vec(),
                line: 1,
            };
            assert!(KeyFacts::from_block(&block).is_err());
        }
    }
}
