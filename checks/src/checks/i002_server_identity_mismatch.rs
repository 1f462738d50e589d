use crate::analysis::route::sans_contain;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The identity the server presents is not one the client expects.
    ///
    /// **What it checks.** A's sidecar verifies the server's URI SAN against the expected
    /// SANs: DestinationRule `tls.subjectAltNames` when set (literally, no alias expansion),
    /// else ServiceEntry `subjectAltNames` plus `endpoints[].serviceAccount` rendered in A's
    /// trust domain. The server presents its workload identity in B's trust domain end-to-end,
    /// or the gateway's identity when a gateway terminates.
    ///
    /// **Why it breaks.** The chain is trusted but the SAN check fails:
    /// `CERTIFICATE_VERIFY_FAILED` on A's side, `ssl.fail_verify_san` rising in A's stats.
    /// Identities derived from B's service accounts in *A's* trust domain are the classic case.
    ///
    /// **How to fix.** Set the DestinationRule's `tls.subjectAltNames` to the identity B
    /// actually presents: `spiffe://<B's trust domain>/ns/<ns>/sa/<sa>`.
    pub static CHECK = {
        code: "I002",
        name: "server-identity-mismatch",
        category: Identity,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let expected = &route.client.expected_sans;
        if expected.is_empty() || route.server_identities.is_empty() {
            continue;
        }
        if route
            .server_identities
            .iter()
            .any(|id| sans_contain(expected, id))
        {
            continue;
        }
        let presented = &route.server_identities;
        let mut f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} expects the server to be one of [{}], but {} presents [{}].",
                cx.client.mesh.name,
                expected.join(", "),
                cx.server.mesh.name,
                presented.join(", ")
            ),
        )
        .route(route.id.clone());
        f = match (&route.client.destination_rule, route.client.sans_from) {
            (Some((src, path)), "destination-rule") => f.evidence(Evidence::object(
                Side::Client,
                src,
                Some(&format!("{path}.subjectAltNames")),
                "expected SANs (taken literally)",
            )),
            _ => match &route.service_entry {
                Some(src) => f.evidence(Evidence::object(
                    Side::Client,
                    src,
                    Some("spec"),
                    "expected SANs derived from subjectAltNames / endpoints[].serviceAccount",
                )),
                None => f,
            },
        };
        if let Some(target) = &route.target
            && route.is_end_to_end()
        {
            for pod in &target.pods {
                f = f.evidence(Evidence::object(
                    Side::Server,
                    &pod.source,
                    Some("spec.template.spec.serviceAccountName"),
                    format!("runs as service account `{}`", pod.service_account),
                ));
            }
        }
        if let Some(gw) = &route.gateway
            && !route.is_end_to_end()
        {
            f = f.evidence(Evidence::object(
                Side::Server,
                &gw.gateway,
                Some(&format!("spec.servers[{}].tls.mode", gw.server)),
                format!(
                    "{} terminates TLS and presents its own identity",
                    gw.tls_mode
                ),
            ));
        }
        let sans: Vec<String> = presented.iter().map(|p| format!("      - {p}")).collect();
        out.push(
            f.fix("Expect the identity the server really presents.")
                .fix_yaml(format!(
                    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: {host}\n  namespace: {ns}\nspec:\n  host: {host}\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n      subjectAltNames:\n{}",
                    sans.join("\n"),
                    host = route.host,
                    ns = route.client_namespace
                )),
        );
    }
    out
}
