use super::proxies;
use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::model::{ProxyObservation, canonical_serial};
use crate::pki::Certificate;

crate::declare_check! {
    /// Some namespaces or running proxies still hold a root other than the CA's current one.
    ///
    /// **What it checks.** istiod copies the mesh root into ConfigMap `istio-ca-root-cert` in
    /// every namespace; proxies read it there. The check compares each copy with the root of
    /// the CA in use (the `cacerts` root, or the self-signed root). With
    /// `--inspect-proxies` it also compares the roots each inspected Envoy has loaded (its
    /// admin `/certs`) with that root, and lists the pods to restart.
    ///
    /// **Why it breaks.** After a root rotation, workloads in a namespace with the old copy
    /// trust only the old root: they reject peers that already present chains to the new one,
    /// or the peer, trusting only the new root, rejects them.
    ///
    /// **How to fix.** During a rotation publish old *and* new roots in both meshes, wait for
    /// istiod to refresh every namespace's copy, then restart the workloads there (a proxy
    /// that still holds the old root after that was simply never restarted).
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
        out.extend(stale_published_copies(view));
        out.extend(stale_proxies(cx, view));
    }
    out
}

/// Namespaces whose `istio-ca-root-cert` misses the CA's current root.
fn stale_published_copies(view: &MeshView) -> Option<Finding> {
    let current = view.trust.ca_roots_in_use();
    let first = current.first()?;
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
        return None;
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
            first.subject
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
    Some(
        finding
            .fix("Publish old and new roots together during a rotation, let istiod refresh every namespace, then restart the workloads in these namespaces.")
            .fix_command(
                namespaces
                    .iter()
                    .map(|ns| format!("kubectl -n {ns} rollout restart deploy"))
                    .collect::<Vec<_>>()
                    .join(" && "),
            ),
    )
}

/// Running proxies (`--inspect-proxies`) whose loaded roots miss the mesh's current root:
/// compared by serial number and expiry, which is what Envoy's `/certs` shows.
fn stale_proxies(cx: &Context, view: &MeshView) -> Option<Finding> {
    let mut current = view.trust.ca_roots_in_use();
    if current.is_empty() {
        current = view.trust.own_roots.clone();
    }
    let first = current.first()?;
    let holds = |p: &ProxyObservation, root: &Certificate| {
        let serial = canonical_serial(&root.serial);
        p.state
            .roots
            .iter()
            .any(|r| r.serial == serial && r.expiration.is_none_or(|t| t == root.not_after))
    };
    let stale: Vec<&ProxyObservation> = proxies::of_mesh(cx, view.side)
        .filter(|p| !p.state.roots.is_empty())
        .filter(|p| !current.iter().all(|root| holds(p, root)))
        .collect();
    if stale.is_empty() {
        return None;
    }
    let mut finding = Finding::new(
        &CHECK.info,
        view.side,
        format!(
            "In {}, {} running prox{} still trust{} other roots than the CA's current root `{}` \
             (serial {}): {}. They keep rejecting peers whose chains lead to the current root until restarted.",
            view.mesh.name,
            stale.len(),
            if stale.len() == 1 { "y" } else { "ies" },
            if stale.len() == 1 { "s" } else { "" },
            first.subject,
            canonical_serial(&first.serial),
            proxies::pod_list(&stale)
        ),
    );
    for p in &stale {
        let held: Vec<String> = p.state.roots.iter().map(proxies::describe).collect();
        finding = finding.evidence(proxies::evidence(
            p,
            format!("loaded roots: {}", held.join("; ")),
        ));
    }
    Some(
        finding
            .fix("Restart these pods so their proxies fetch the current root from istiod (check first that istio-ca-root-cert in their namespace holds it).")
            .fix_command(proxies::restart_command(&stale)),
    )
}
