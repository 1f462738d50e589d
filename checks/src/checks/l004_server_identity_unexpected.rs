use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The server's certificate verifies, but its identity is not one the client expects.
    ///
    /// **What it checks.** The URI SANs of the leaf a live handshake presented, against the
    /// SANs the client expects for the route. A leaf without any `spiffe://` SAN usually means
    /// something other than an Istio proxy terminates TLS (an L7 load balancer in front of the
    /// gateway).
    ///
    /// **Why it breaks.** The client's SAN check fails: `CERTIFICATE_VERIFY_FAILED` with
    /// `ssl.fail_verify_san` rising. Usually I002 or G007.
    ///
    /// **How to fix.** Expect the identity the server presents (DestinationRule
    /// `tls.subjectAltNames`), or route around the terminating load balancer (TCP/TLS
    /// passthrough on it).
    pub static CHECK = {
        code: "L004",
        name: "server-identity-unexpected",
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
            ProbeOutcome::ServerIdentityUnexpected {
                presented,
                non_spiffe: true,
            } => Some(format!(
                "{} presented a certificate without a SPIFFE identity ({presented:?}): something other than an Istio proxy terminates TLS there.",
                p.target
            )),
            ProbeOutcome::ServerIdentityUnexpected { presented, .. } => Some(format!(
                "{} presented {presented:?}, none of which the client expects ({:?}).",
                p.target, p.expected_sans
            )),
            _ => None,
        },
        "Expect the identity the server presents, or remove the TLS-terminating hop in front of the gateway.",
    )
}
