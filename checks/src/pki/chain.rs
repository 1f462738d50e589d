//! Chain building and verification against a set of trust anchors.
//!
//! Done by hand rather than with webpki so that every reason is explicit (which certificate,
//! which rule) and so that a chain can be judged the way BoringSSL in Envoy judges it:
//! issuer found by name and key identifier, then proven by signature.

use std::sync::Arc;

use serde::Serialize;

use super::certificate::Certificate;
use crate::time::Timestamp;

/// Longest chain accepted (leaf, intermediates, root). Istio chains have 2–4 certificates.
const MAX_DEPTH: usize = 8;

/// Why a chain does not reach a trust anchor.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Untrusted {
    /// No presented certificate and no anchor is named like the issuer of `cert`.
    UnknownIssuer {
        cert: Arc<Certificate>,
        issuer: String,
    },
    /// An anchor or intermediate carries the issuer's name but did not sign `cert`
    /// (BoringSSL reports `decrypt_error` or `certificate_verify_failed`).
    BadSignature {
        cert: Arc<Certificate>,
        issuer: String,
    },
    /// The chain is longer than any Istio chain could be.
    TooLong,
}

impl Untrusted {
    pub fn describe(&self) -> String {
        match self {
            Untrusted::UnknownIssuer { cert, .. } if cert.self_issued => {
                format!("`{}` is a root that is not in the trust set", cert.subject)
            }
            Untrusted::UnknownIssuer { cert, issuer } => format!(
                "no trusted root or presented intermediate issued `{}` (issuer `{issuer}`)",
                cert.subject
            ),
            Untrusted::BadSignature { cert, issuer } => format!(
                "`{}` names `{issuer}` as issuer, but no certificate of that name signed it",
                cert.subject
            ),
            Untrusted::TooLong => format!("chain longer than {MAX_DEPTH} certificates"),
        }
    }
}

/// A rule broken by a certificate on an otherwise trusted path.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum PathProblem {
    Expired {
        cert: Arc<Certificate>,
    },
    NotYetValid {
        cert: Arc<Certificate>,
    },
    /// An issuing certificate without `CA:TRUE` (or without basicConstraints at all).
    NotCa {
        cert: Arc<Certificate>,
    },
    /// An issuing certificate whose keyUsage lacks `keyCertSign`.
    NoKeyCertSign {
        cert: Arc<Certificate>,
    },
    /// More intermediates below `cert` than its pathLen allows.
    PathLenExceeded {
        cert: Arc<Certificate>,
        path_len: u32,
    },
    /// SHA-1 signature on a non-root certificate.
    WeakSignature {
        cert: Arc<Certificate>,
    },
    /// RSA key shorter than 2048 bits.
    WeakKey {
        cert: Arc<Certificate>,
        bits: u32,
    },
}

impl PathProblem {
    pub fn cert(&self) -> &Arc<Certificate> {
        match self {
            PathProblem::Expired { cert }
            | PathProblem::NotYetValid { cert }
            | PathProblem::NotCa { cert }
            | PathProblem::NoKeyCertSign { cert }
            | PathProblem::PathLenExceeded { cert, .. }
            | PathProblem::WeakSignature { cert }
            | PathProblem::WeakKey { cert, .. } => cert,
        }
    }

    pub fn describe(&self) -> String {
        let subject = &self.cert().subject;
        match self {
            PathProblem::Expired { cert } => {
                format!("`{subject}` expired at {}", cert.not_after)
            }
            PathProblem::NotYetValid { cert } => {
                format!("`{subject}` is not valid before {}", cert.not_before)
            }
            PathProblem::NotCa { .. } => {
                format!(
                    "`{subject}` issues certificates but is not a CA (basicConstraints CA:TRUE missing)"
                )
            }
            PathProblem::NoKeyCertSign { .. } => {
                format!("`{subject}` issues certificates but its keyUsage lacks keyCertSign")
            }
            PathProblem::PathLenExceeded { path_len, .. } => format!(
                "`{subject}` allows {path_len} intermediate(s) below it (pathLen), the chain has more"
            ),
            PathProblem::WeakSignature { .. } => {
                format!("`{subject}` is signed with SHA-1, which Envoy and webpki reject")
            }
            PathProblem::WeakKey { bits, .. } => {
                format!("`{subject}` has a {bits}-bit RSA key; at least 2048 bits are required")
            }
        }
    }
}

/// The result of verifying a chain.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verification {
    /// A path from the leaf to an anchor exists; `problems` lists rules the path breaks.
    Trusted {
        path: Vec<Arc<Certificate>>,
        problems: Vec<PathProblem>,
    },
    Untrusted(Untrusted),
}

impl Verification {
    pub fn is_trusted(&self) -> bool {
        matches!(self, Verification::Trusted { .. })
    }

    pub fn anchor(&self) -> Option<&Arc<Certificate>> {
        match self {
            Verification::Trusted { path, .. } => path.last(),
            Verification::Untrusted(_) => None,
        }
    }
}

/// Verifies `leaf` with the `presented` intermediates against `anchors` at instant `at`.
///
/// Issuers are looked up by subject name and, where both sides carry them, by key identifier,
/// then proven by signature. Every candidate is tried, so two anchors sharing a name do not
/// confuse this verifier (they do confuse BoringSSL: see check T006).
pub fn verify(
    leaf: &Arc<Certificate>,
    presented: &[Arc<Certificate>],
    anchors: &[Arc<Certificate>],
    at: Timestamp,
) -> Verification {
    let mut path = vec![leaf.clone()];
    let mut failure = None;
    if build(&mut path, presented, anchors, &mut failure) {
        let problems = path_problems(&path, at);
        Verification::Trusted { path, problems }
    } else {
        Verification::Untrusted(failure.map_or_else(
            || Untrusted::UnknownIssuer {
                cert: leaf.clone(),
                issuer: leaf.issuer.clone(),
            },
            |(_, reason)| reason,
        ))
    }
}

fn build(
    path: &mut Vec<Arc<Certificate>>,
    presented: &[Arc<Certificate>],
    anchors: &[Arc<Certificate>],
    // The failure seen deepest in the path: it names the certificate closest to the root that
    // could not be chained, which is the useful one to report.
    failure: &mut Option<(usize, Untrusted)>,
) -> bool {
    let Some(current) = path.last().cloned() else {
        return false;
    };
    if anchors.iter().any(|a| a.same_key_and_name(&current)) {
        return true;
    }
    if path.len() >= MAX_DEPTH {
        *failure = Some((path.len(), Untrusted::TooLong));
        return false;
    }
    let named_issuers = anchors
        .iter()
        .chain(presented)
        .filter(|c| c.raw_subject() == current.raw_issuer())
        .filter(|c| !path.iter().any(|p| p.fingerprint == c.fingerprint))
        .filter(|c| key_ids_compatible(&current, c))
        .cloned()
        .collect::<Vec<_>>();
    let mut any_named = false;
    for issuer in named_issuers {
        any_named = true;
        if !current.is_signed_by(&issuer) {
            continue;
        }
        path.push(issuer);
        if build(path, presented, anchors, failure) {
            return true;
        }
        path.pop();
    }
    if failure
        .as_ref()
        .is_none_or(|(depth, _)| *depth < path.len())
    {
        let reason = if any_named {
            Untrusted::BadSignature {
                cert: current.clone(),
                issuer: current.issuer.clone(),
            }
        } else {
            Untrusted::UnknownIssuer {
                cert: current.clone(),
                issuer: current.issuer.clone(),
            }
        };
        *failure = Some((path.len(), reason));
    }
    false
}

/// A child's authority key id must equal its issuer's subject key id when both are present.
fn key_ids_compatible(child: &Certificate, issuer: &Certificate) -> bool {
    match (&child.authority_key_id, &issuer.subject_key_id) {
        (Some(akid), Some(skid)) => akid == skid,
        _ => true,
    }
}

fn path_problems(path: &[Arc<Certificate>], at: Timestamp) -> Vec<PathProblem> {
    let mut problems = Vec::new();
    for (depth, cert) in path.iter().enumerate() {
        if at > cert.not_after {
            problems.push(PathProblem::Expired { cert: cert.clone() });
        } else if at < cert.not_before {
            problems.push(PathProblem::NotYetValid { cert: cert.clone() });
        }
        if let Some(bits) = cert.public_key.bits
            && cert.public_key.algorithm == "RSA"
            && bits < 2048
        {
            problems.push(PathProblem::WeakKey {
                cert: cert.clone(),
                bits,
            });
        }
        let is_root = depth + 1 == path.len() && cert.self_issued;
        if cert.signature_algorithm == "sha1WithRSAEncryption" && !is_root {
            problems.push(PathProblem::WeakSignature { cert: cert.clone() });
        }
        if depth == 0 {
            continue;
        }
        problems.extend(issuer_problems(cert, depth));
    }
    problems
}

/// Rules for a certificate that issued the one below it; `depth` counts certificates below.
fn issuer_problems(cert: &Arc<Certificate>, depth: usize) -> Vec<PathProblem> {
    let mut problems = Vec::new();
    if !cert.is_ca {
        problems.push(PathProblem::NotCa { cert: cert.clone() });
    }
    if cert.key_usage.as_ref().is_some_and(|ku| !ku.key_cert_sign) {
        problems.push(PathProblem::NoKeyCertSign { cert: cert.clone() });
    }
    // Intermediates below this one: everything under it except the leaf.
    let below = depth.saturating_sub(1);
    if let Some(path_len) = cert.basic_constraints.as_ref().and_then(|bc| bc.path_len)
        && below > path_len as usize
    {
        problems.push(PathProblem::PathLenExceeded {
            cert: cert.clone(),
            path_len,
        });
    }
    problems
}
