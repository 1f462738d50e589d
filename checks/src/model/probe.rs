//! What a live TLS handshake observed. The probe engine (in the binary) fills these in; the
//! L-family checks turn them into findings and the engine uses them to confirm or refute the
//! configuration findings.

use serde::{Deserialize, Serialize};

use crate::finding::CertificateEvidence;

/// One stage of a probe: resolve, connect, handshake, verify chain, check SAN, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeStage {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub millis: u64,
}

/// What the TLS handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
}

/// How a probe ended, in the catalogue's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// DNS failure, TCP refused or timeout (L001).
    Unreachable { reason: String },
    /// TCP ok, closed or reset after the ClientHello (L002).
    ClosedBeforeServerHello { reason: String },
    /// The presented chain does not verify against the client's roots (L003).
    ServerChainUntrusted { reason: String },
    /// Chain ok, identity not expected; `non_spiffe` for a leaf without a SPIFFE ID (L004).
    ServerIdentityUnexpected {
        presented: Vec<String>,
        non_spiffe: bool,
    },
    /// The server rejected our client certificate (L005): the alert, e.g. `unknown_ca`.
    ClientCertificateRejected { alert: String },
    /// `protocol_version` / `handshake_failure` (L007).
    ParametersRejected { alert: String },
    /// Full mTLS handshake with the expected identities (L008).
    HandshakeOk,
    /// Anything else (a non-TLS answer, an unexpected alert).
    Other { reason: String },
}

impl ProbeOutcome {
    /// The catalogue code this outcome is reported as.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            ProbeOutcome::Unreachable { .. } => "L001",
            ProbeOutcome::ClosedBeforeServerHello { .. } => "L002",
            ProbeOutcome::ServerChainUntrusted { .. } => "L003",
            ProbeOutcome::ServerIdentityUnexpected { .. } => "L004",
            ProbeOutcome::ClientCertificateRejected { .. } => "L005",
            ProbeOutcome::ParametersRejected { .. } => "L007",
            ProbeOutcome::HandshakeOk => "L008",
            ProbeOutcome::Other { .. } => return None,
        })
    }
}

/// A handshake without a proper client identity (none, or a throwaway self-signed one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegativeProbe {
    /// `no client certificate` or `self-signed client certificate`.
    pub variant: String,
    /// True when the server completed the handshake (and did not reject on the first read).
    pub accepted: bool,
    pub detail: String,
}

/// Everything one probe of one route observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeObservation {
    /// The route probed (`None` for `istio-peer probe`).
    pub route: Option<String>,
    /// `host:port` dialled.
    pub target: String,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    /// The client identity presented (SPIFFE ID or subject), `None` when none.
    pub client_identity: Option<String>,
    /// Where that identity came from (`--probe-cert`, minted from the client CA, none).
    pub identity_source: String,
    pub stages: Vec<ProbeStage>,
    pub negotiated: Option<Negotiated>,
    /// The chain the server presented, leaf first, captured even when it did not verify.
    pub server_chain: Vec<CertificateEvidence>,
    pub presented_sans: Vec<String>,
    pub expected_sans: Vec<String>,
    /// Whether the server asked for a client certificate.
    pub client_certificate_requested: Option<bool>,
    pub outcome: ProbeOutcome,
    pub negative: Vec<NegativeProbe>,
    /// What the probe could not check (e.g. no client identity available).
    pub unconfirmed: Vec<String>,
}
