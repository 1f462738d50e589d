use super::evidence::with;
use crate::analysis::Topology;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The server mesh's target has no endpoint that can terminate Istio mTLS.
    ///
    /// **What it checks.** On an end-to-end route, B's gateway forwards the client's TLS bytes
    /// (SNI-DNAT) only to endpoints with a sidecar (`security.istio.io/tlsMode=istio`). The check
    /// looks at the pods behind the target service: none at all, or none with a sidecar
    /// (namespace without injection, `sidecar.istio.io/inject: "false"`).
    ///
    /// **Why it breaks.** The gateway's cluster for that SNI is empty: the connection is
    /// closed before the ServerHello, or the caller gets `503 UH no healthy upstream`.
    ///
    /// **How to fix.** Inject the sidecar into the target pods (label the namespace
    /// `istio-injection=enabled`, remove `sidecar.istio.io/inject: "false"`) and restart them.
    pub static CHECK = {
        code: "G004",
        name: "no-mtls-endpoints",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in cx
        .routes
        .iter()
        .filter(|r| r.topology == Topology::EastWest)
    {
        let Some(target) = &route.target else {
            continue;
        };
        if target.pods.iter().any(|p| p.sidecar) {
            continue;
        }
        let message = if target.pods.is_empty() {
            format!(
                "{} selects no pods in {}: the gateway has no endpoint for the route.",
                target.service.object, cx.server.mesh.name
            )
        } else {
            format!(
                "None of the pods behind {} runs an Istio sidecar: {}'s gateway has no mTLS endpoint to forward the route to.",
                target.service.object, cx.server.mesh.name
            )
        };
        let mut f = Finding::new(&CHECK.info, Side::Server, message)
            .route(route.id.clone())
            .evidence(Evidence::object(
                Side::Server,
                &target.service,
                Some("spec.selector"),
                "the route's target service",
            ));
        for pod in &target.pods {
            let field = if pod.annotations.contains_key("sidecar.istio.io/inject") {
                "spec.template.metadata.annotations"
            } else {
                "spec.template.metadata"
            };
            f = f.evidence(Evidence::object(
                Side::Server,
                &pod.source,
                Some(field),
                "no sidecar injected",
            ));
        }
        let ns = &target.service.object.namespace;
        let ns_evidence = cx
            .server
            .mesh
            .namespaces
            .iter()
            .find(|n| n.name() == ns)
            .map(|n| {
                Evidence::object(
                    Side::Server,
                    &n.source,
                    Some("metadata.labels"),
                    "namespace injection labels",
                )
            });
        out.push(
            with(f, ns_evidence)
                .fix("Inject the sidecar into the target pods and restart them.")
                .fix_command(format!("kubectl label namespace {ns} istio-injection=enabled --overwrite && kubectl -n {ns} rollout restart deploy")),
        );
    }
    out
}
