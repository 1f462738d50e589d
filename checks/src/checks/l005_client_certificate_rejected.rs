use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The server rejected the client mesh's identity.
    ///
    /// **What it checks.** A live handshake presenting the client's identity (a workload
    /// certificate, or one minted from the client mesh's CA), followed by a read so that a
    /// TLS 1.3 rejection — which arrives after the client's handshake completed — is seen.
    ///
    /// **Why it breaks.** The alert names the reason: `unknown_ca` (B does not trust A's root:
    /// T002, G005), `certificate_unknown` (trust domain not accepted: I001), `bad_certificate`,
    /// `certificate_expired` (C001), `certificate_required` (no certificate was sent).
    ///
    /// **How to fix.** See the configuration finding it confirms.
    pub static CHECK = {
        code: "L005",
        name: "client-certificate-rejected",
        category: Probe,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::l_probe::findings(
        cx,
        &CHECK.info,
        Side::Server,
        |p| match &p.outcome {
            ProbeOutcome::ClientCertificateRejected { alert } => Some(format!(
                "{} rejected the client identity {} with `{alert}`.",
                p.target,
                p.client_identity.as_deref().unwrap_or("(none)")
            )),
            _ => None,
        },
        "Make the server accept the client's identity: trust its root (T002) and its trust domain (I001).",
    )
}
