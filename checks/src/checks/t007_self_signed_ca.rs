use crate::analysis::CaMode;
use crate::context::Context;
use crate::finding::{Evidence, Finding};

crate::declare_check! {
    /// A mesh uses istiod's self-signed root, which no other mesh can share.
    ///
    /// **What it checks.** Without a `cacerts` Secret, istiod generates its own root
    /// (`istio-ca-secret`). That root exists only in this cluster.
    ///
    /// **Why it breaks.** A peer mesh can trust it only by copying the root into its own trust
    /// (`caCertificates` with multi-root), and it changes whenever the Secret is recreated. It
    /// is the usual root cause of T001 and T002 between separately installed meshes.
    ///
    /// **How to fix.** Plug in a CA: create per-mesh intermediates under one shared root (see
    /// Istio's "Plug in CA certificates" task), store them as `cacerts` in istio-system,
    /// restart istiod and then every workload.
    pub static CHECK = {
        code: "T007",
        name: "self-signed-ca",
        category: Trust,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        if view.trust.mode != CaMode::SelfSigned {
            continue;
        }
        let Some(ca) = &view.trust.self_signed else {
            continue;
        };
        let mut evidence = Evidence::object(
            view.side,
            &ca.source,
            Some("data.ca-cert.pem"),
            "istiod's self-signed CA; no cacerts Secret in the inputs",
        );
        if let Some(cert) = &ca.ca_cert {
            evidence = evidence.with_certificate(cert);
        }
        out.push(
            Finding::new(
                &CHECK.info,
                view.side,
                format!(
                    "{} signs workloads with istiod's self-signed root: the peer mesh cannot share it.",
                    view.mesh.name
                ),
            )
            .evidence(evidence)
            .fix("Plug in a CA: an intermediate for this mesh under a root shared with the peer, as Secret cacerts.")
            .fix_command(format!(
                "kubectl -n {ns} create secret generic cacerts --from-file=ca-cert.pem --from-file=ca-key.pem \
                 --from-file=root-cert.pem --from-file=cert-chain.pem && kubectl -n {ns} rollout restart deploy/istiod",
                ns = view.mesh.system_namespace()
            )),
        );
    }
    out
}
