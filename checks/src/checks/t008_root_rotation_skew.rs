use crate::analysis::CaMode;
use crate::context::Context;
use crate::finding::{Evidence, Finding};

crate::declare_check! {
    /// Some namespaces still publish a root other than the CA's current one.
    ///
    /// **What it checks.** istiod copies the mesh root into ConfigMap `istio-ca-root-cert` in
    /// every namespace; proxies read it there. The check compares each copy with the root of
    /// the CA in use (the `cacerts` root, or the self-signed root).
    ///
    /// **Why it breaks.** After a root rotation, workloads in a namespace with the old copy
    /// trust only the old root: they reject peers that already present chains to the new one,
    /// or the peer, trusting only the new root, rejects them.
    ///
    /// **How to fix.** During a rotation publish old *and* new roots in both meshes, wait for
    /// istiod to refresh every namespace's copy, then restart the workloads there.
    pub static CHECK = {
        code: "T008",
        name: "root-rotation-skew",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        let current = match view.trust.mode {
            CaMode::PlugIn => view.trust.plug_in.as_ref().map(|c| c.root_certs.clone()),
            CaMode::SelfSigned => view
                .trust
                .self_signed
                .as_ref()
                .map(|c| c.ca_cert.iter().cloned().collect()),
            _ => None,
        };
        let Some(current) = current.filter(|c| !c.is_empty()) else {
            continue;
        };
        let stale: Vec<_> = view
            .trust
            .published
            .iter()
            .filter(|p| !p.roots.is_empty())
            .filter(|p| {
                !current
                    .iter()
                    .all(|c| p.roots.iter().any(|r| r.same_key_and_name(c)))
            })
            .collect();
        if stale.is_empty() {
            continue;
        }
        let namespaces: Vec<&str> = stale.iter().map(|p| p.namespace.as_str()).collect();
        let mut finding = Finding::new(
            &CHECK.info,
            view.side,
            format!(
                "In {}, istio-ca-root-cert in namespace(s) {} does not hold the CA's current root `{}`: \
                 workloads there trust a different root.",
                view.mesh.name,
                namespaces.join(", "),
                current[0].subject
            ),
        );
        for p in &stale {
            for r in &p.roots {
                finding = finding.evidence(
                    Evidence::object(
                        view.side,
                        &p.source,
                        Some("data.root-cert.pem"),
                        "published root differs from the CA's",
                    )
                    .with_certificate(r),
                );
            }
        }
        out.push(
            finding
                .fix("Publish old and new roots together during a rotation, let istiod refresh every namespace, then restart the workloads in these namespaces.")
                .fix_command(
                    namespaces
                        .iter()
                        .map(|ns| format!("kubectl -n {ns} rollout restart deploy"))
                        .collect::<Vec<_>>()
                        .join(" && "),
                ),
        );
    }
    out
}
