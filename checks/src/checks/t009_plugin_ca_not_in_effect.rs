use crate::analysis::CaMode;
use crate::context::Context;
use crate::finding::{Evidence, Finding};

crate::declare_check! {
    /// `cacerts` exists but the mesh still runs on another root.
    ///
    /// **What it checks.** When the root published in `istio-ca-root-cert` is not the
    /// `root-cert.pem` of `cacerts`, istiod is not using the plug-in CA — typically `cacerts`
    /// was created after istiod started, so istiod still signs with its self-signed
    /// `istio-ca-secret`.
    ///
    /// **Why it breaks.** The peer mesh was configured to trust the plug-in root, but this
    /// mesh's workloads present chains to the self-signed root, and trust the self-signed root
    /// only: both directions fail.
    ///
    /// **How to fix.** Restart istiod so it loads `cacerts`, then restart the workloads so they
    /// get certificates from the new CA.
    pub static CHECK = {
        code: "T009",
        name: "plugin-ca-not-in-effect",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        if view.trust.mode != CaMode::PlugInNotInEffect {
            continue;
        }
        let Some(ca) = &view.trust.plug_in else {
            continue;
        };
        let mut finding = Finding::new(
            &CHECK.info,
            view.side,
            format!(
                "{} has a cacerts Secret, but the root it publishes is a different one: istiod is not using the plug-in CA \
                 (cacerts created after istiod started?).",
                view.mesh.name
            ),
        );
        for root in &ca.root_certs {
            finding = finding.evidence(
                Evidence::object(
                    view.side,
                    &ca.source,
                    Some("data.root-cert.pem"),
                    "plug-in root (not in effect)",
                )
                .with_certificate(root),
            );
        }
        if let Some(src) = &view.trust.own_roots_source {
            for root in &view.trust.own_roots {
                finding = finding.evidence(
                    Evidence::object(
                        view.side,
                        src,
                        Some("data.root-cert.pem"),
                        "root the mesh actually publishes",
                    )
                    .with_certificate(root),
                );
            }
        }
        out.push(
            finding
                .fix("Restart istiod so it loads cacerts, then restart every workload.")
                .fix_command(format!(
                    "kubectl -n {} rollout restart deploy/istiod && kubectl rollout restart deploy -n <each namespace>",
                    view.mesh.system_namespace()
                )),
        );
    }
    out
}
