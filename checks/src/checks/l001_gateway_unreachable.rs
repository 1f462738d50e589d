use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The probe could not reach the server mesh's gateway at all.
    ///
    /// **What it checks.** A live probe of the route's address: DNS resolution and the TCP
    /// connection.
    ///
    /// **Why it breaks.** DNS failure, `connection refused` or a timeout: nothing listens at
    /// the address, or the network path is blocked. The caller sees `503 UF` with
    /// `delayed connect error: 111` or `connection timeout`. Usually G001, G007 or N001.
    ///
    /// **How to fix.** Check that the gateway Service has an external address and the port,
    /// that the ServiceEntry endpoint points at it, and that firewalls allow the path.
    pub static CHECK = {
        code: "L001",
        name: "gateway-unreachable",
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
            ProbeOutcome::Unreachable { reason } => Some(format!(
                "The live probe could not reach {}: {reason}.",
                p.target
            )),
            _ => None,
        },
        "Make the gateway reachable at the route's address: the Service's external address and port, the ServiceEntry endpoint, the network path.",
    )
}
