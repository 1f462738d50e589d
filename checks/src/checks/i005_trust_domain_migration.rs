use std::collections::BTreeMap;

use super::proxies;
use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::model::ProxyObservation;
use crate::spiffe::trust_domain_of;

crate::declare_check! {
    /// A certificate carries a trust domain other than its mesh's configured one.
    ///
    /// **What it checks.** Every certificate found in a mesh's inputs with a `spiffe://` URI
    /// SAN (workload and gateway Secrets, CA material) is compared with the mesh's
    /// `trustDomain`. With `--inspect-proxies`, so is the certificate each inspected Envoy
    /// presents (its admin `/certs`): pods that were not restarted after a trust-domain
    /// change are listed.
    ///
    /// **Why it matters.** After a trust-domain change, workloads keep their old identity
    /// until restarted. Peers that expect the new one reject them (I002), and policies written
    /// for the new one deny them (I003) — for some pods only, which makes it confusing.
    ///
    /// **How to fix.** Restart the workloads so they get certificates in the new trust domain;
    /// keep the old one in `trustDomainAliases` until every pod has rolled.
    pub static CHECK = {
        code: "I005",
        name: "trust-domain-migration",
        category: Identity,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        let td = &view.mesh.config.trust_domain;
        for secret in &view.mesh.secrets {
            for (key, entry) in &secret.spec.entries {
                for cert in &entry.certificates {
                    let Some(found) = cert.spiffe_id().and_then(trust_domain_of) else {
                        continue;
                    };
                    if found == td {
                        continue;
                    }
                    let aliased = view
                        .mesh
                        .config
                        .trust_domain_aliases
                        .iter()
                        .any(|a| a == found);
                    out.push(
                        Finding::new(
                            &CHECK.info,
                            view.side,
                            format!(
                                "In {}, {} holds a certificate for `{}` in trust domain `{found}`, but the mesh's trust domain is `{td}`{}.",
                                view.mesh.name,
                                secret.source.object,
                                cert.spiffe_id().unwrap_or_default(),
                                if aliased { " (the old one is still an alias)" } else { "" }
                            ),
                        )
                        .evidence(Evidence::object(view.side, &secret.source, Some(&format!("data.{key}")), "certificate in another trust domain").with_certificate(cert))
                        .fix(format!("Restart the workload so it gets a certificate in `{td}`; keep `{found}` in trustDomainAliases until every pod has rolled.")),
                    );
                }
            }
        }
        out.extend(proxies_in_other_trust_domains(cx, view));
    }
    out
}

/// Running proxies (`--inspect-proxies`) presenting a SPIFFE certificate in another trust
/// domain: one finding per trust domain, listing the pods.
fn proxies_in_other_trust_domains(cx: &Context, view: &MeshView) -> Vec<Finding> {
    let td = &view.mesh.config.trust_domain;
    let mut by_domain: BTreeMap<&str, Vec<(&ProxyObservation, &str)>> = BTreeMap::new();
    for p in proxies::of_mesh(cx, view.side) {
        for id in p.state.certificates.iter().filter_map(|c| c.spiffe_id()) {
            if let Some(found) = trust_domain_of(id).filter(|found| found != td) {
                by_domain.entry(found).or_default().push((p, id));
            }
        }
    }
    by_domain
        .into_iter()
        .map(|(found, holders)| {
            let pods: Vec<&ProxyObservation> = holders.iter().map(|(p, _)| *p).collect();
            let mut f = Finding::new(
                &CHECK.info,
                view.side,
                format!(
                    "In {}, {} running prox{} present{} certificates in trust domain `{found}`, but the mesh's trust domain is `{td}`: {}.",
                    view.mesh.name,
                    pods.len(),
                    if pods.len() == 1 { "y" } else { "ies" },
                    if pods.len() == 1 { "s" } else { "" },
                    proxies::pod_list(&pods)
                ),
            )
            .fix(format!("Restart these pods so they get certificates in `{td}`; keep `{found}` in trustDomainAliases until every pod has rolled."))
            .fix_command(proxies::restart_command(&pods));
            for (p, id) in holders {
                f = f.evidence(proxies::evidence(p, format!("presents `{id}`")));
            }
            f
        })
        .collect()
}
