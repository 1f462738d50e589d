use super::evidence::{client_rule, with};
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The client does not verify the server's certificate.
    ///
    /// **What it checks.** DestinationRules with `insecureSkipVerify: true`, or in
    /// `SIMPLE`/`MUTUAL` mode without `caCertificates` and without `credentialName`.
    ///
    /// **Why it matters.** Connections succeed whatever the server presents: trust problems
    /// (T001, I002) are hidden today and surface the day verification is switched on — and
    /// anyone on the path can impersonate the server.
    ///
    /// **How to fix.** Verify against the server mesh's root: `caCertificates` (a path in the
    /// sidecar) or `credentialName` with `ca.crt`, or `ISTIO_MUTUAL`; drop
    /// `insecureSkipVerify`.
    pub static CHECK = {
        code: "R006",
        name: "verification-disabled",
        category: Routing,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let Some(tls) = &route.client.tls else {
            continue;
        };
        let (field, why) = if tls.insecure_skip_verify == Some(true) {
            ("insecureSkipVerify", "insecureSkipVerify is true")
        } else if matches!(tls.mode.as_str(), "SIMPLE" | "MUTUAL")
            && tls.ca_certificates.is_empty()
            && tls.credential_name.is_empty()
        {
            ("mode", "no caCertificates and no credentialName")
        } else {
            continue;
        };
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} does not verify the server of {}: {why}. Trust problems stay hidden.",
                cx.client.mesh.name, route.host
            ),
        )
        .route(route.id.clone());
        out.push(
            with(f, client_rule(route, field, why))
                .fix("Verify the server against the server mesh's root.")
                .fix_yaml(format!("# DestinationRule for {}\ntrafficPolicy:\n  tls:\n    mode: {}\n    caCertificates: /etc/certs/remote-root.pem   # or credentialName with ca.crt\n    insecureSkipVerify: false", route.host, tls.mode)),
        );
    }
    out
}
