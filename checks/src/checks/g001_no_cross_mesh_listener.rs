use super::evidence::{service_entry, with};
use crate::analysis::route::ExposureProblem;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// No Gateway in the server mesh listens where the route arrives.
    ///
    /// **What it checks.** The route's address is a Service of mesh B (normally the east-west
    /// or ingress gateway). Some Gateway must select the pods behind that Service and have a
    /// server on the port the client uses: 15443 with `tls.mode: AUTO_PASSTHROUGH` for
    /// end-to-end mTLS, or the ingress port with `ISTIO_MUTUAL`/`MUTUAL`.
    ///
    /// **Why it breaks.** Without a Gateway server, the gateway pod has no listener on the
    /// port: the client sees the TCP connection refused or reset (`delayed connect error: 111`
    /// or `104`), and the caller gets `503 UF`.
    ///
    /// **How to fix.** Apply an east-west Gateway (Istio's `samples/multicluster/expose-services.yaml`)
    /// whose selector matches the gateway pods.
    pub static CHECK = {
        code: "G001",
        name: "no-cross-mesh-listener",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let (service, why) = match &route.exposure_problem {
            Some(ExposureProblem::NoGatewayForPods { service }) => {
                (service, "no Gateway selects the pods behind it".to_string())
            }
            Some(ExposureProblem::NoServerOnPort { service, port }) => {
                (service, format!("no Gateway server listens on port {port}"))
            }
            _ => continue,
        };
        let f = Finding::new(
            &CHECK.info,
            Side::Server,
            format!(
                "The route arrives at {} in {}, but {why}: the connection is refused or reset before any TLS.",
                service.object, cx.server.mesh.name
            ),
        )
        .route(route.id.clone())
        .evidence(Evidence::object(Side::Server, service, Some("spec.selector"), why.clone()));
        out.push(
            with(f, service_entry(route, "spec.endpoints", "the route's endpoint"))
                .fix("Expose the gateway with an AUTO_PASSTHROUGH Gateway server on the port the client uses.")
                .fix_yaml(format!(
                    "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: cross-network-gateway\n  namespace: {ns}\nspec:\n  selector:\n    istio: eastwestgateway\n  servers:\n  - port:\n      number: 15443\n      name: tls\n      protocol: TLS\n    tls:\n      mode: AUTO_PASSTHROUGH\n    hosts:\n    - \"*.local\"",
                    ns = service.object.namespace
                )),
        );
    }
    out
}
