use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// A plug-in or a declarative rule could not do its job.
    ///
    /// **What it checks.** Every user check of the run: a plug-in executable that exits
    /// non-zero, exceeds `--plugin-timeout`, prints something other than findings JSON, an
    /// unknown schema version or findings outside its `X-<name>-NNN` namespace; a CEL rule
    /// whose condition fails to evaluate on an object or route (a missing field without
    /// `has()`, a non-boolean result). Reported by the user-check step, one finding per
    /// plug-in or rule, naming it and the problem.
    ///
    /// **Why it matters.** What that check would have found is unknown: like E001, the run is
    /// inconclusive (exit 3) when nothing else fails.
    ///
    /// **How to fix.** Run the plug-in by hand with the model on stdin
    /// (`istio-peer schema` documents it), or fix the rule and test it with
    /// `istio-peer rules test DIR`.
    pub static CHECK = {
        code: "E004",
        name: "user-check-failed",
        category: Environment,
        severity: Warning,
        run: run,
    };
}

/// The user-check step (`user::run`) emits this finding; there is nothing to check here.
fn run(_: &Context) -> Vec<Finding> {
    Vec::new()
}
