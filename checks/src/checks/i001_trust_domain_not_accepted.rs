use crate::analysis::trust::accepted_trust_domains;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

/// istiod setting that turns the inbound trust-domain check off.
const SKIP_VALIDATION: &str = "PILOT_SKIP_VALIDATE_TRUST_DOMAIN";

crate::declare_check! {
    /// The server mesh does not accept the client mesh's trust domain.
    ///
    /// **What it checks.** On an end-to-end route (through an AUTO_PASSTHROUGH gateway), B's
    /// sidecar checks that A's URI SAN starts with `spiffe://<td>/` for a td in B's
    /// `trustDomain`, `trustDomainAliases` or `caCertificates[].trustDomains` — unless istiod
    /// sets `PILOT_SKIP_VALIDATE_TRUST_DOMAIN=true`. A gateway that terminates TLS does no such
    /// check, so terminated routes are exempt.
    ///
    /// **Why it breaks.** The chain verifies, then B rejects the identity:
    /// `SSLV3_ALERT_CERTIFICATE_UNKNOWN` (268436502) on A's side.
    ///
    /// **How to fix.** Add A's trust domain to B's `caCertificates[].trustDomains` (SAN
    /// validation only; Istio ≥ 1.18), or to `trustDomainAliases` — which also widens B's
    /// authorization policies (see I004).
    pub static CHECK = {
        code: "I001",
        name: "trust-domain-not-accepted",
        category: Identity,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let (client, server) = (cx.client.mesh, cx.server.mesh);
    if server
        .istiod
        .as_ref()
        .is_some_and(|i| i.spec.flag(SKIP_VALIDATION))
    {
        return Vec::new();
    }
    let accepted = accepted_trust_domains(server);
    let td = &client.config.trust_domain;
    if accepted.iter().any(|(t, _)| t == td) {
        return Vec::new();
    }
    let list: Vec<String> = accepted
        .iter()
        .map(|(t, via)| format!("{t} ({via})"))
        .collect();
    cx.routes
        .iter()
        .filter(|r| r.is_end_to_end())
        .map(|route| {
            let mut f = Finding::new(
                &CHECK.info,
                Side::Server,
                format!(
                    "{} presents identities in trust domain `{td}`, which {} does not accept (accepts: {}). \
                     {}'s sidecars reject the client certificate.",
                    client.name,
                    server.name,
                    list.join(", "),
                    server.name
                ),
            )
            .route(route.id.clone());
            f = match &server.config_source {
                Some(src) => f.evidence(Evidence::object(cx.server.side, src, Some("data.mesh"), "trustDomain, trustDomainAliases, caCertificates[].trustDomains")),
                None => f.evidence(Evidence::fact(cx.server.side, "no mesh config: only the default trust domain cluster.local is accepted")),
            };
            if let Some(src) = &client.config_source {
                f = f.evidence(Evidence::object(cx.client.side, src, Some("data.mesh"), format!("trustDomain: {td}")));
            }
            f.fix(format!("Accept `{td}` in {}'s mesh config (SAN validation only).", server.name))
                .fix_yaml(format!(
                    "# {}: ConfigMap {}/istio, key `mesh`\ncaCertificates:\n- trustDomains: [\"{td}\"]\n  pem: |\n    <the root that issues {}'s certificates>",
                    server.name,
                    server.system_namespace(),
                    client.name
                ))
        })
        .collect()
}
