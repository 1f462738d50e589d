use super::evidence::{client_rule, service_entry, with};
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The client mesh sends the route in plaintext.
    ///
    /// **What it checks.** The TLS mode A's sidecar uses for the route: a DestinationRule
    /// (host, subset or port level, including one in the root namespace) with
    /// `tls.mode: DISABLE`; a `MESH_EXTERNAL` ServiceEntry without a TLS DestinationRule;
    /// ServiceEntry endpoints without `security.istio.io/tlsMode: istio` or a
    /// `serviceAccount` and no DestinationRule (auto-mTLS does not apply); or
    /// `meshConfig.enableAutoMtls: false`.
    ///
    /// **Why it breaks.** B's gateway expects TLS: an AUTO_PASSTHROUGH gateway finds no SNI
    /// and closes the connection; a terminating one answers with a TLS error
    /// (`HTTP_REQUEST` on its side).
    ///
    /// **How to fix.** Set `tls.mode: ISTIO_MUTUAL` (with the SNI and SANs of the remote
    /// service) in a DestinationRule for the host.
    pub static CHECK = {
        code: "R002",
        name: "plaintext-origination",
        category: Routing,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in cx.routes.iter().filter(|r| r.client.mode == "DISABLE") {
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} sends {} in plaintext: {}.",
                cx.client.mesh.name, route.host, route.client.mode_reason
            ),
        )
        .route(route.id.clone());
        let evidence = client_rule(route, "mode", "tls.mode DISABLE")
            .or_else(|| service_entry(route, "spec", route.client.mode_reason.clone()));
        out.push(
            with(f, evidence)
                .fix("Originate Istio mTLS for the host.")
                .fix_yaml(format!(
                    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  host: {host}\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n      sni: outbound_.<B's port>_._.<B's service host>",
                    name = route.host.replace('.', "-"),
                    ns = route.client_namespace,
                    host = route.host
                )),
        );
    }
    out
}
