use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The certificate chain the server presented does not verify against the client's roots.
    ///
    /// **What it checks.** The chain captured from a live handshake, verified against the
    /// client mesh's effective roots at the evaluation time (unknown issuer, expired, not yet
    /// valid, bad signature, bad key usage).
    ///
    /// **Why it breaks.** The client's sidecar aborts with `CERTIFICATE_VERIFY_FAILED`.
    /// Usually T001, T005, T006 or C001.
    ///
    /// **How to fix.** See the configuration finding it confirms; if there is none, the
    /// server presents something the configuration does not explain (a load balancer
    /// terminating TLS in front of the gateway, a stale certificate).
    pub static CHECK = {
        code: "L003",
        name: "server-chain-untrusted",
        category: Probe,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::l_probe::findings(
        cx,
        &CHECK.info,
        Side::Client,
        |p| match &p.outcome {
            ProbeOutcome::ServerChainUntrusted { reason } => Some(format!(
                "{} presented a chain the client does not trust: {reason}.",
                p.target
            )),
            _ => None,
        },
        "Make the server present a chain to a root the client trusts (one shared root, or the server's root in the client's caCertificates).",
    )
}
