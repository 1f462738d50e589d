use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A waiver in the configuration matched no finding.
    ///
    /// **What it checks.** Every waiver of `.istio-peer.toml` (or `--config`) against the
    /// findings of the run. Reported by the policy step after all checks ran.
    ///
    /// **Why it matters.** A stale waiver waits to hide the next, unrelated finding that
    /// happens to match it. Waivers should be removed once what they waived is fixed.
    ///
    /// **How to fix.** Delete the waiver from the configuration file.
    pub static CHECK = {
        code: "E003",
        name: "waiver-unused",
        category: Environment,
        severity: Info,
        run: run,
    };
}

/// The policy step (`policy::apply`) emits this finding; there is nothing to check here.
fn run(_: &Context) -> Vec<Finding> {
    Vec::new()
}
