//! Certificates, keys, PEM bundles and chain verification.

mod certificate;
mod chain;
mod key;
mod pem;

pub use certificate::{
    BasicConstraintsInfo, Certificate, CertificateError, KeyUsageInfo, PublicKeyInfo,
};
pub use chain::{PathProblem, Untrusted, Verification, verify};
pub use key::KeyFacts;

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    certificate::sha256_hex(bytes)
}
pub use pem::{PemBlock, PemError, parse_blocks};

use std::collections::HashMap;
use std::sync::Arc;

/// Parses each distinct certificate once: meshes repeat the same root in every namespace's
/// `istio-ca-root-cert`, so thousands of copies cost one parse.
#[derive(Default)]
pub struct CertificateCache {
    by_der_digest: HashMap<String, Result<Arc<Certificate>, CertificateError>>,
}

impl CertificateCache {
    pub fn parse(&mut self, der: &[u8]) -> Result<Arc<Certificate>, CertificateError> {
        let key = certificate::sha256_hex(der);
        self.by_der_digest
            .entry(key)
            .or_insert_with(|| Certificate::from_der(der).map(Arc::new))
            .clone()
    }
}

/// The certificates and keys found in one blob (a Secret or ConfigMap value).
#[derive(Debug, Default, Clone)]
pub struct Bundle {
    pub certificates: Vec<Arc<Certificate>>,
    pub keys: Vec<KeyFacts>,
    /// Problems with their 1-based line inside the blob.
    pub errors: Vec<PemError>,
}

impl Bundle {
    /// Decodes a blob; certificates go through `cache`, private keys are reduced to
    /// [`KeyFacts`] immediately.
    pub fn decode(blob: &[u8], cache: &mut CertificateCache) -> Bundle {
        let (blocks, errors) = parse_blocks(blob);
        let mut bundle = Bundle {
            errors,
            ..Bundle::default()
        };
        for block in blocks {
            if block.is_private_key() {
                match KeyFacts::from_block(&block) {
                    Ok(facts) => bundle.keys.push(facts),
                    Err(message) => bundle.errors.push(PemError {
                        line: block.line,
                        message,
                    }),
                }
            } else if block.label == "CERTIFICATE" || block.label == "TRUSTED CERTIFICATE" {
                match cache.parse(&block.der) {
                    Ok(cert) => bundle.certificates.push(cert),
                    Err(e) => bundle.errors.push(PemError {
                        line: block.line,
                        message: e.message,
                    }),
                }
            }
        }
        bundle
    }
}
