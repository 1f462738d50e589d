use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// Both meshes use the same trust domain, or one aliases the other's.
    ///
    /// **What it checks.** The two meshes' `trustDomain` values, and whether either lists the
    /// other's in `trustDomainAliases`.
    ///
    /// **Why it matters.** Authorization policies name callers as `<td>/ns/<ns>/sa/<sa>`.
    /// With a shared trust domain (often the default `cluster.local`), or with an alias, a
    /// policy cannot tell `shop/frontend` of mesh A from `shop/frontend` of mesh B: anyone
    /// who controls a namespace name in the other mesh inherits its permissions.
    ///
    /// **How to fix.** Give each mesh a unique trust domain, and trust the peer with
    /// `caCertificates[].trustDomains` rather than `trustDomainAliases`.
    pub static CHECK = {
        code: "I004",
        name: "trust-domain-collision",
        category: Identity,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let (a, b) = (cx.client.mesh, cx.server.mesh);
    let (ta, tb) = (&a.config.trust_domain, &b.config.trust_domain);
    let reason = if ta == tb {
        format!("both meshes use trust domain `{ta}`")
    } else if b.config.trust_domain_aliases.contains(ta) {
        format!("{} aliases {}'s trust domain `{ta}`", b.name, a.name)
    } else if a.config.trust_domain_aliases.contains(tb) {
        format!("{} aliases {}'s trust domain `{tb}`", a.name, b.name)
    } else {
        return Vec::new();
    };
    let mut f = Finding::new(
        &CHECK.info,
        Side::Both,
        format!("{reason}: authorization policies cannot tell the two meshes' workloads apart."),
    );
    for view in cx.meshes() {
        f = match &view.mesh.config_source {
            Some(src) => f.evidence(Evidence::object(
                view.side,
                src,
                Some("data.mesh"),
                format!("trustDomain: {}", view.mesh.config.trust_domain),
            )),
            None => f.evidence(Evidence::fact(
                view.side,
                "no mesh config: default trust domain cluster.local",
            )),
        };
    }
    vec![f
        .fix("Give each mesh its own trust domain; accept the peer with caCertificates[].trustDomains instead of aliases.")
        .fix_yaml("# each mesh: ConfigMap istio-system/istio, key `mesh`\ntrustDomain: <unique-per-mesh>.local")]
}
