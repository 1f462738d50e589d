use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The server closed the connection right after the client's ClientHello.
    ///
    /// **What it checks.** A live probe that connected over TCP and sent the route's
    /// ClientHello (SNI and ALPN as the client sidecar sends them).
    ///
    /// **Why it breaks.** The gateway has no filter chain for that SNI/ALPN and closes without
    /// an alert (`filter_chain_not_found`; `connection termination` or a reset on the client).
    /// Usually G002, G003, G006 or R002.
    ///
    /// **How to fix.** Align the SNI the client sends with a chain the gateway builds (see
    /// G002), use ISTIO_MUTUAL for AUTO_PASSTHROUGH (G003), or send a host the gateway serves
    /// (G006).
    pub static CHECK = {
        code: "L002",
        name: "closed-before-server-hello",
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
            ProbeOutcome::ClosedBeforeServerHello { reason } => Some(format!(
                "{} closed the connection after the ClientHello (SNI {}, ALPN {:?}): {reason}.",
                p.target,
                p.sni.as_deref().unwrap_or("none"),
                p.alpn_offered
            )),
            _ => None,
        },
        "Send an SNI and ALPN the gateway has a filter chain for (see G002, G003, G006).",
    )
}
