use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::model::minor_version;

crate::declare_check! {
    /// A mesh runs an Istio version that lacks something the route relies on.
    ///
    /// **What it checks.** istiod's version (its image tag) against: `caCertificates[].trustDomains`
    /// (accepting a peer trust domain for SAN validation needs Istio 1.18); objects written
    /// with the `v1` Istio APIs (`networking.istio.io/v1`, `security.istio.io/v1`, served from
    /// Istio 1.22); and sidecar or gateway proxies more than two minor versions away from
    /// their control plane.
    ///
    /// **Why it breaks.** An older istiod ignores the setting (the peer's trust domain is
    /// rejected, `certificate_unknown`) or the API server rejects the objects; proxies outside
    /// the supported skew may not understand the configuration istiod sends.
    ///
    /// **How to fix.** Upgrade the mesh, or use the older mechanism (`trustDomainAliases`,
    /// `v1beta1` objects) until you can.
    pub static CHECK = {
        code: "V001",
        name: "version-skew",
        category: Versions,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    cx.meshes().into_iter().filter_map(check_mesh).collect()
}

fn check_mesh(view: &MeshView) -> Option<Finding> {
    let mesh = view.mesh;
    let istiod = mesh.istiod.as_ref()?;
    let tag = istiod.spec.version.as_deref()?;
    let version = mesh.istio_minor_version()?;
    let mut problems: Vec<(String, Evidence)> = Vec::new();
    if version < (1, 18)
        && mesh
            .config
            .ca_certificates
            .iter()
            .any(|c| !c.trust_domains.is_empty())
    {
        let p = format!(
            "caCertificates[].trustDomains needs Istio 1.18, istiod is {tag}: peer trust domains listed there are not accepted"
        );
        let e = mesh.config_source.as_ref().map_or_else(
            || Evidence::fact(view.side, p.clone()),
            |s| Evidence::object(view.side, s, Some("data.mesh"), p.clone()),
        );
        problems.push((p, e));
    }
    if version < (1, 22) {
        let v1: Vec<_> = all_sources(mesh)
            .filter(|s| {
                s.api_version == "networking.istio.io/v1" || s.api_version == "security.istio.io/v1"
            })
            .collect();
        if let Some(first) = v1.first() {
            let p = format!(
                "{} object(s) use the v1 Istio APIs, served from Istio 1.22; istiod is {tag}",
                v1.len()
            );
            problems.push((
                p.clone(),
                Evidence::object(view.side, first, Some("apiVersion"), p),
            ));
        }
    }
    for w in &mesh.workloads {
        let Some(proxy) = w
            .spec
            .pod
            .containers
            .iter()
            .find(|c| c.name == "istio-proxy")
        else {
            continue;
        };
        let Some(proxy_version) = proxy.image.rsplit(':').next().and_then(minor_version) else {
            continue;
        };
        if proxy_version.0 == version.0 && proxy_version.1.abs_diff(version.1) > 2 {
            let p = format!(
                "{} runs proxy {} with istiod {tag} (more than two minor versions apart)",
                w.source.object, proxy.image
            );
            problems.push((
                p.clone(),
                Evidence::object(
                    view.side,
                    &w.source,
                    Some("spec.template.spec.containers"),
                    p,
                ),
            ));
        }
    }
    if problems.is_empty() {
        return None;
    }
    let text: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    let mut f = Finding::new(
        &CHECK.info,
        view.side,
        format!(
            "{} runs Istio {tag}, too old for what it is configured to do: {}.",
            mesh.name,
            text.join("; ")
        ),
    )
    .evidence(Evidence::object(
        view.side,
        &istiod.source,
        Some("spec.template.spec.containers"),
        format!("istiod image tag {tag}"),
    ));
    for (_, e) in problems {
        f = f.evidence(e);
    }
    Some(f.fix("Upgrade the mesh to a version that supports the configuration (Istio 1.22 or later), or fall back to the older mechanisms."))
}

fn all_sources(mesh: &crate::model::Mesh) -> impl Iterator<Item = &crate::model::Source> {
    mesh.gateways
        .iter()
        .map(|i| &i.source)
        .chain(mesh.virtual_services.iter().map(|i| &i.source))
        .chain(mesh.destination_rules.iter().map(|i| &i.source))
        .chain(mesh.service_entries.iter().map(|i| &i.source))
        .chain(mesh.sidecars.iter().map(|i| &i.source))
        .chain(mesh.workload_entries.iter().map(|i| &i.source))
        .chain(mesh.peer_authentications.iter().map(|i| &i.source))
        .chain(mesh.authorization_policies.iter().map(|i| &i.source))
}
