use crate::analysis::route::Registry;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The client mesh has no registry entry for the remote host.
    ///
    /// **What it checks.** Hosts the client mesh configures for the server mesh (a
    /// DestinationRule whose SNI or host names a B service, or a `--host`) that neither a
    /// ServiceEntry nor a multi-primary remote registry makes known to A's sidecars.
    ///
    /// **Why it breaks.** Without a registry entry the sidecar has no cluster for the host:
    /// with `REGISTRY_ONLY` the request fails (`502`/`NR`), with `ALLOW_ANY` it leaves as
    /// plaintext passthrough, and the DestinationRule's TLS settings never apply.
    ///
    /// **How to fix.** Add a ServiceEntry for the host whose endpoint is B's east-west
    /// gateway address on port 15443.
    pub static CHECK = {
        code: "R001",
        name: "no-service-entry",
        category: Routing,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in cx.routes.iter().filter(|r| r.registry == Registry::Missing) {
        let mut f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!(
                "{} has no ServiceEntry for {}: its sidecars have no cluster for the host.",
                cx.client.mesh.name, route.host
            ),
        )
        .route(route.id.clone());
        if let Some((src, _)) = &route.client.destination_rule {
            f = f.evidence(Evidence::object(
                Side::Client,
                src,
                Some("spec.host"),
                "DestinationRule for a host with no registry entry",
            ));
        }
        let gateway = cx
            .server
            .mesh
            .services
            .iter()
            .find(|s| s.name().contains("eastwest"))
            .and_then(|s| {
                s.spec.status.load_balancer.ingress.first().map(|i| {
                    if i.ip.is_empty() {
                        i.hostname.clone()
                    } else {
                        i.ip.clone()
                    }
                })
            })
            .unwrap_or_else(|| "<B's east-west gateway address>".into());
        out.push(
            f.fix("Add a ServiceEntry for the host pointing at the server mesh's east-west gateway.")
                .fix_yaml(format!(
                    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  hosts:\n  - {host}\n  location: MESH_INTERNAL\n  resolution: STATIC\n  ports:\n  - number: {port}\n    name: http\n    protocol: HTTP\n  endpoints:\n  - address: {gateway}\n    ports:\n      http: 15443\n    labels:\n      security.istio.io/tlsMode: istio",
                    name = route.host.replace('.', "-"),
                    ns = route.client_namespace,
                    host = route.host,
                    port = route.port
                )),
        );
    }
    out
}
