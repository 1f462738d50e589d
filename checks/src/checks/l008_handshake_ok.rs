use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// A full mutual-TLS handshake succeeded with the expected identities.
    ///
    /// **What it checks.** A live handshake as the client sidecar would do it: the route's
    /// SNI and ALPN, the client's identity, the server chain verified against the client's
    /// roots and its SAN against the expected ones, and no rejection on the first read.
    ///
    /// **Why it matters.** It is the proof that the TLS layer works. Configuration findings
    /// it contradicts are downgraded to warnings and marked as contradicted.
    ///
    /// **How to fix.** Nothing to fix.
    pub static CHECK = {
        code: "L008",
        name: "handshake-ok",
        category: Probe,
        severity: Info,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::l_probe::findings(
        cx,
        &CHECK.info,
        Side::Both,
        |p| {
            if p.outcome != ProbeOutcome::HandshakeOk {
                return None;
            }
            let n = p.negotiated.as_ref();
            Some(format!(
                "mTLS to {} works: {} {}, ALPN {}, server {:?}, client {}.",
                p.target,
                n.map_or("?", |n| n.version.as_str()),
                n.map_or("?", |n| n.cipher.as_str()),
                n.and_then(|n| n.alpn.as_deref()).unwrap_or("none"),
                p.presented_sans,
                p.client_identity.as_deref().unwrap_or("(none)")
            ))
        },
        "Nothing to fix.",
    )
}
