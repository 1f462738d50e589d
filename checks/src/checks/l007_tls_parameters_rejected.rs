use crate::context::Context;
use crate::finding::Finding;
use crate::model::{ProbeOutcome, Side};

crate::declare_check! {
    /// The server refused the TLS versions or cipher suites the client offers.
    ///
    /// **What it checks.** A live handshake offering the client mesh's TLS window.
    ///
    /// **Why it breaks.** `protocol_version` (no common version: P001) or
    /// `handshake_failure` (no common cipher suite or group: P002).
    ///
    /// **How to fix.** Make the version ranges and cipher suites of both meshes overlap.
    pub static CHECK = {
        code: "L007",
        name: "tls-parameters-rejected",
        category: Probe,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::l_probe::findings(
        cx,
        &CHECK.info,
        Side::Both,
        |p| match &p.outcome {
            ProbeOutcome::ParametersRejected { alert } => Some(format!(
                "{} refused the client's TLS parameters: `{alert}`.",
                p.target
            )),
            _ => None,
        },
        "Make the TLS versions and cipher suites of both meshes overlap (see P001, P002).",
    )
}
