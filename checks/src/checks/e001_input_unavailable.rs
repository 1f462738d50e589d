use crate::analysis::CaMode;
use crate::context::Context;
use crate::finding::{Evidence, Finding, Severity};

/// Checks that need a mesh's CA material.
const NEEDS_CA: &[&str] = &[
    "T001", "T002", "T003", "T004", "T005", "T006", "T007", "T008", "T009", "C001", "C002", "C003",
    "C004",
];

crate::declare_check! {
    /// Something the diagnosis needs could not be read.
    ///
    /// **What it checks.** A cluster, resource kind or object that could not be read (403
    /// with the RBAC rule that is missing, CRD absent, timeout), or CA material absent from
    /// the inputs (no `cacerts`, `istio-ca-secret` or `istio-ca-root-cert`). The finding lists
    /// the checks that could not run because of it.
    ///
    /// **Why it matters.** A check that cannot see its input neither passes nor fails: the
    /// run is *inconclusive* (exit code 3) unless something else failed.
    ///
    /// **How to fix.** Grant the listed RBAC rule, include the missing objects in the
    /// offline inputs (e.g. `istio-ca-root-cert` ConfigMaps and the CA Secrets), or check
    /// connectivity to the cluster.
    pub static CHECK = {
        code: "E001",
        name: "input-unavailable",
        category: Environment,
        severity: Warning,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        for missing in &view.mesh.unavailable {
            let skipped = if missing.disables.is_empty() {
                "nothing".to_string()
            } else {
                missing.disables.join(", ")
            };
            let mut f = Finding::new(
                &CHECK.info,
                view.side,
                format!(
                    "{}: {} could not be read ({}); skipped: {skipped}.",
                    view.mesh.name, missing.what, missing.reason
                ),
            )
            .evidence(Evidence::fact(
                view.side,
                format!("{}: {}", missing.what, missing.reason),
            ));
            if missing.optional {
                f = f.severity(Severity::Info);
            }
            f = match &missing.rbac {
                Some(rule) => f
                    .fix(format!("Grant the reader {}.", rule.describe()))
                    .fix_yaml(rule.yaml()),
                None => f.fix(format!(
                    "Make {} readable (see the reason) and run again.",
                    missing.what
                )),
            };
            out.push(f);
        }
        let cluster_down = view.mesh.objects_read == 0 && !view.mesh.unavailable.is_empty();
        if view.trust.mode == CaMode::Unknown && !cluster_down {
            out.push(
                Finding::new(
                    &CHECK.info,
                    view.side,
                    format!(
                        "{} has no CA material in the inputs (no Secret cacerts or istio-ca-secret, no ConfigMap istio-ca-root-cert); \
                         skipped: {}.",
                        view.mesh.name,
                        NEEDS_CA.join(", ")
                    ),
                )
                .evidence(Evidence::fact(view.side, format!("looked in namespace {}", view.mesh.system_namespace())))
                .fix("Include the CA objects in the inputs (or a snapshot taken with `istio-peer snapshot`).")
                .fix_command(format!(
                    "kubectl -n {ns} get configmap istio-ca-root-cert -o yaml; kubectl -n {ns} get secret cacerts -o yaml  # redact ca-key.pem",
                    ns = view.mesh.system_namespace()
                )),
            );
        }
    }
    out
}
