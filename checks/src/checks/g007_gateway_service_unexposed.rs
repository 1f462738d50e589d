use super::evidence::{service_entry, with};
use crate::analysis::route::ExposureProblem;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// The client points at an address or port the server mesh's gateway does not expose.
    ///
    /// **What it checks.** The address and port of A's ServiceEntry endpoint must be an
    /// external address (load-balancer status, `externalIPs`) of one of B's Services, and that
    /// Service must have the port. The check reports endpoints whose address is no external
    /// address in B, and gateway Services without the port.
    ///
    /// **Why it breaks.** The TCP connection is refused or times out (`delayed connect error:
    /// 111`, `connection timeout`): nothing in B listens there.
    ///
    /// **How to fix.** Add the port to the gateway Service (`15443` named `tls` for east-west),
    /// or point the ServiceEntry endpoint at the gateway's external address and port.
    pub static CHECK = {
        code: "G007",
        name: "gateway-service-unexposed",
        category: Gateway,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for route in &cx.routes {
        let finding = match &route.exposure_problem {
            Some(ExposureProblem::PortMissing { service, port, ports }) => Finding::new(
                &CHECK.info,
                Side::Server,
                format!("{} in {} has no port {port} (it exposes {ports:?}), but the route connects to it.", service.object, cx.server.mesh.name),
            )
            .evidence(Evidence::object(Side::Server, service, Some("spec.ports"), format!("ports {ports:?}")))
            .fix("Expose the port on the gateway Service.")
            .fix_yaml(format!("# Service {}\nspec:\n  ports:\n  - name: tls\n    port: {port}\n    targetPort: {port}", service.object)),
            Some(ExposureProblem::AddressUnknown { address }) => Finding::new(
                &CHECK.info,
                Side::Client,
                format!("The route connects to {address}, which is not an external address of any Service in {}.", cx.server.mesh.name),
            )
            .fix("Point the ServiceEntry endpoint at the external address of the server mesh's gateway Service.")
            .fix_command(format!("kubectl --context <{}> -n istio-system get svc -o wide  # the gateway's EXTERNAL-IP", cx.server.mesh.name)),
            _ => continue,
        };
        out.push(with(
            finding.route(route.id.clone()),
            service_entry(
                route,
                "spec.endpoints",
                "the route's endpoint address and port",
            ),
        ));
    }
    out
}
