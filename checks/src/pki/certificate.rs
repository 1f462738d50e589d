//! Parsed X.509 certificates: the facts the checks need, computed once per distinct DER.

use std::sync::Arc;

use ring::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

use crate::time::Timestamp;

/// A parsed certificate. Certificates are compared by SHA-256 fingerprint (same bytes) or by
/// subject public key (same key), never by subject name alone.
#[derive(Clone, Serialize, Deserialize)]
pub struct Certificate {
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// SHA-256 of the DER-encoded SubjectPublicKeyInfo, lower-case hex.
    pub spki_fingerprint: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub is_ca: bool,
    /// `None` when the certificate has no basicConstraints extension.
    pub basic_constraints: Option<BasicConstraintsInfo>,
    /// `None` when the certificate has no keyUsage extension (all usages allowed).
    pub key_usage: Option<KeyUsageInfo>,
    /// Extended key usages (`serverAuth`, `clientAuth`, ...); `None` when absent.
    pub extended_key_usage: Option<Vec<String>>,
    pub uri_sans: Vec<String>,
    pub dns_sans: Vec<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    pub signature_algorithm: String,
    pub public_key: PublicKeyInfo,
    pub self_issued: bool,
    pub version: u32,
    #[serde(skip)]
    pub(crate) der: Arc<[u8]>,
    #[serde(skip)]
    pub(crate) raw_subject: Arc<[u8]>,
    #[serde(skip)]
    pub(crate) raw_issuer: Arc<[u8]>,
    #[serde(skip)]
    pub(crate) raw_spki: Arc<[u8]>,
    /// The subjectPublicKey bit string, used to match private keys to certificates.
    #[serde(skip)]
    pub(crate) public_key_bits: Arc<[u8]>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicConstraintsInfo {
    pub ca: bool,
    pub path_len: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsageInfo {
    pub key_cert_sign: bool,
    pub digital_signature: bool,
    pub key_encipherment: bool,
    pub crl_sign: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// `RSA`, `EC P-256`, `EC P-384`, `Ed25519`, ...
    pub algorithm: String,
    /// Key size in bits where it means something (RSA modulus, EC field).
    pub bits: Option<u32>,
}

/// Why bytes that should be a certificate are not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateError {
    pub message: String,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| CertificateError {
            message: format!("not a DER X.509 certificate: {e}"),
        })?;
        if !rest.is_empty() {
            return Err(CertificateError {
                message: format!("{} trailing bytes after the certificate", rest.len()),
            });
        }
        let der = &der[..der.len() - rest.len()];
        Ok(summarize(der, &cert))
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether `self` and `other` are the same CA for trust purposes: same key and same name.
    /// Two self-signed roots re-issued with the same key (e.g. extended validity) are the same
    /// trust anchor.
    pub fn same_key_and_name(&self, other: &Certificate) -> bool {
        self.spki_fingerprint == other.spki_fingerprint && self.raw_subject == other.raw_subject
    }

    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// The first `spiffe://` URI SAN.
    pub fn spiffe_id(&self) -> Option<&str> {
        self.uri_sans
            .iter()
            .map(String::as_str)
            .find(|u| u.starts_with("spiffe://"))
    }

    pub fn short_fingerprint(&self) -> &str {
        &self.fingerprint[..self.fingerprint.len().min(16)]
    }

    /// Whether `issuer` signed this certificate. Unsupported algorithms count as not signed.
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let Ok((_, cert)) = X509Certificate::from_der(&self.der) else {
            return false;
        };
        let Ok((_, issuer_spki)) = SubjectPublicKeyInfo::from_der(&issuer.raw_spki) else {
            return false;
        };
        cert.verify_signature(Some(&issuer_spki)).is_ok()
    }

    pub(crate) fn raw_subject(&self) -> &[u8] {
        &self.raw_subject
    }

    pub(crate) fn raw_issuer(&self) -> &[u8] {
        &self.raw_issuer
    }

    pub(crate) fn public_key_bits(&self) -> &[u8] {
        &self.public_key_bits
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest(&SHA256, bytes).as_ref())
}

fn summarize(der: &[u8], cert: &X509Certificate<'_>) -> Certificate {
    let tbs = &cert.tbs_certificate;
    let mut out = Certificate {
        fingerprint: sha256_hex(der),
        spki_fingerprint: sha256_hex(tbs.subject_pki.raw),
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        serial: tbs.raw_serial_as_string(),
        not_before: Timestamp(tbs.validity.not_before.timestamp()),
        not_after: Timestamp(tbs.validity.not_after.timestamp()),
        is_ca: false,
        basic_constraints: None,
        key_usage: None,
        extended_key_usage: None,
        uri_sans: Vec::new(),
        dns_sans: Vec::new(),
        subject_key_id: None,
        authority_key_id: None,
        signature_algorithm: signature_algorithm_name(cert),
        public_key: public_key_info(&tbs.subject_pki),
        self_issued: tbs.subject.as_raw() == tbs.issuer.as_raw(),
        version: tbs.version.0 + 1,
        der: der.into(),
        raw_subject: tbs.subject.as_raw().into(),
        raw_issuer: tbs.issuer.as_raw().into(),
        raw_spki: tbs.subject_pki.raw.into(),
        public_key_bits: tbs.subject_pki.subject_public_key.data.as_ref().into(),
    };
    for ext in tbs.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                out.is_ca = bc.ca;
                out.basic_constraints = Some(BasicConstraintsInfo {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                });
            }
            ParsedExtension::KeyUsage(ku) => {
                out.key_usage = Some(KeyUsageInfo {
                    key_cert_sign: ku.key_cert_sign(),
                    digital_signature: ku.digital_signature(),
                    key_encipherment: ku.key_encipherment(),
                    crl_sign: ku.crl_sign(),
                });
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut usages = Vec::new();
                if eku.any {
                    usages.push("any".to_string());
                }
                if eku.server_auth {
                    usages.push("serverAuth".to_string());
                }
                if eku.client_auth {
                    usages.push("clientAuth".to_string());
                }
                if eku.code_signing {
                    usages.push("codeSigning".to_string());
                }
                if eku.email_protection {
                    usages.push("emailProtection".to_string());
                }
                usages.extend(eku.other.iter().map(|oid| oid.to_id_string()));
                out.extended_key_usage = Some(usages);
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::URI(u) => out.uri_sans.push((*u).to_string()),
                        GeneralName::DNSName(d) => out.dns_sans.push((*d).to_string()),
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(kid) => out.subject_key_id = Some(hex(kid.0)),
            ParsedExtension::AuthorityKeyIdentifier(akid) => {
                out.authority_key_id = akid.key_identifier.as_ref().map(|k| hex(k.0));
            }
            _ => {}
        }
    }
    out
}

fn signature_algorithm_name(cert: &X509Certificate<'_>) -> String {
    use x509_parser::oid_registry::*;
    let oid = &cert.signature_algorithm.algorithm;
    let known = [
        (OID_PKCS1_SHA1WITHRSA, "sha1WithRSAEncryption"),
        (OID_PKCS1_SHA256WITHRSA, "sha256WithRSAEncryption"),
        (OID_PKCS1_SHA384WITHRSA, "sha384WithRSAEncryption"),
        (OID_PKCS1_SHA512WITHRSA, "sha512WithRSAEncryption"),
        (OID_PKCS1_RSASSAPSS, "rsassaPss"),
        (OID_SIG_ECDSA_WITH_SHA256, "ecdsa-with-SHA256"),
        (OID_SIG_ECDSA_WITH_SHA384, "ecdsa-with-SHA384"),
        (OID_SIG_ECDSA_WITH_SHA512, "ecdsa-with-SHA512"),
        (OID_SIG_ED25519, "Ed25519"),
    ];
    known
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

fn public_key_info(spki: &SubjectPublicKeyInfo<'_>) -> PublicKeyInfo {
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => PublicKeyInfo {
            algorithm: "RSA".into(),
            bits: Some(rsa.key_size() as u32),
        },
        Ok(x509_parser::public_key::PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| match oid.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "unknown curve".into());
            PublicKeyInfo {
                algorithm: format!("EC {curve}"),
                bits: Some(point.key_size() as u32),
            }
        }
        _ => PublicKeyInfo {
            algorithm: spki.algorithm.algorithm.to_id_string(),
            bits: None,
        },
    }
}
