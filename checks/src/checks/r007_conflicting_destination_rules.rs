use super::evidence::{client_rule, with};
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// Several DestinationRules with different TLS settings apply to the remote host.
    ///
    /// **What it checks.** DestinationRules for the same host at the level that decides for
    /// the client namespace (its own namespace, the host's, or the root namespace). Istio
    /// keeps only the oldest rule's traffic policy; the others are silently ignored.
    ///
    /// **Why it matters.** Which TLS settings apply depends on creation order: re-creating
    /// the "right" rule flips the route to the other one, e.g. to `DISABLE`.
    ///
    /// **How to fix.** Merge the rules into one DestinationRule per host and delete the rest.
    pub static CHECK = {
        code: "R007",
        name: "conflicting-destination-rules",
        category: Routing,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let differing: Vec<_> = route
            .client
            .rival_rules
            .iter()
            .filter(|(_, tls)| tls.as_ref() != route.client.tls.as_ref())
            .collect();
        if differing.is_empty() {
            continue;
        }
        let names: Vec<String> = differing
            .iter()
            .map(|(s, _)| s.object.to_string())
            .collect();
        let mut f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} DestinationRules apply to {} with different TLS settings; Istio uses the oldest and ignores {}.",
                differing.len() + 1,
                route.host,
                names.join(", ")
            ),
        )
        .route(route.id.clone());
        f = with(f, client_rule(route, "", "in effect (oldest)"));
        for (src, tls) in &differing {
            let mode = tls.as_ref().map_or("no TLS settings".to_string(), |t| {
                format!("tls.mode {}", t.mode)
            });
            f = f.evidence(Evidence::object(
                Side::Client,
                src,
                Some("spec.trafficPolicy"),
                format!("ignored: {mode}"),
            ));
        }
        out.push(f.fix("Merge the DestinationRules for the host into one and delete the others."));
    }
    out
}
