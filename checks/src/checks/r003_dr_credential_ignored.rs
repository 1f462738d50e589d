use super::evidence::{client_rule, with};
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// A DestinationRule's `credentialName` is ignored by sidecars.
    ///
    /// **What it checks.** `MUTUAL`/`SIMPLE` DestinationRules with `credentialName` but no
    /// `workloadSelector`. Istio reads `credentialName` only at gateways, or at sidecars
    /// selected by the rule's `workloadSelector`.
    ///
    /// **Why it breaks.** The sidecar silently drops the credential and sends no client
    /// certificate: the server answers `certificate_required` (TLS 1.3) or
    /// `handshake_failure` (TLS 1.2).
    ///
    /// **How to fix.** Add a `workloadSelector` for the calling workloads, originate at an
    /// egress gateway, or use `ISTIO_MUTUAL` with the mesh's own identity.
    pub static CHECK = {
        code: "R003",
        name: "dr-credential-ignored",
        category: Routing,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(tls) = &route.client.tls else {
            continue;
        };
        if !matches!(tls.mode.as_str(), "MUTUAL" | "SIMPLE")
            || tls.credential_name.is_empty()
            || route.client.rule_has_workload_selector
        {
            continue;
        }
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "The DestinationRule for {} uses credentialName `{}` without a workloadSelector: {}'s sidecars ignore it and present no client certificate.",
                route.host, tls.credential_name, cx.client.mesh.name
            ),
        )
        .route(route.id.clone());
        out.push(
            with(f, client_rule(route, "credentialName", "ignored by sidecars"))
                .fix("Select the calling workloads so their sidecars load the credential.")
                .fix_yaml(format!("# DestinationRule for {}\nspec:\n  workloadSelector:\n    matchLabels:\n      app: <calling workload>", route.host)),
        );
    }
    out
}
