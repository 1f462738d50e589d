use crate::analysis::trust::{MULTIROOT_FLAG, XDS_AGENT_FLAG};
use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};

crate::declare_check! {
    /// Extra roots in `meshConfig.caCertificates` never reach the proxies.
    ///
    /// **What it checks.** `caCertificates[].pem` adds roots to a mesh's trust only when istiod
    /// runs with `ISTIO_MULTIROOT_MESH=true` *and* the proxies have
    /// `proxyMetadata.PROXY_CONFIG_XDS_AGENT: "true"`; the PEM must hold CA certificates. The
    /// check reports entries that add a root the mesh does not already trust while one of
    /// those conditions fails. (`trustDomains` in the same entry still works for SAN
    /// validation; only the roots are lost.)
    ///
    /// **Why it breaks.** The configuration looks right, but proxies keep trusting only their
    /// own root: the peer's certificates fail verification exactly as if the entry were absent.
    ///
    /// **How to fix.** Set both flags, put the peer's *root* PEM in the entry, and restart the
    /// proxies so they pick up the new bundle.
    pub static CHECK = {
        code: "T003",
        name: "extra-roots-not-effective",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    cx.meshes()
        .into_iter()
        .flat_map(|view| check_mesh(view))
        .collect()
}

fn check_mesh(view: &MeshView) -> Vec<Finding> {
    let mesh = view.mesh;
    let mut out = Vec::new();
    if !view.trust.is_known() {
        return out; // Which roots are new cannot be told; E001 lists T003 as skipped.
    }
    for extra in &view.trust.extra_roots {
        let new_roots: Vec<_> = extra
            .certs
            .iter()
            .filter(|c| !view.trust.own_roots.iter().any(|r| r.same_key_and_name(c)))
            .collect();
        let non_ca: Vec<_> = extra.certs.iter().filter(|c| !c.is_ca).collect();
        let mut reasons = Vec::new();
        if !new_roots.is_empty() && !view.trust.multi_root_enabled {
            let istiod = mesh
                .istiod
                .as_ref()
                .is_some_and(|i| i.spec.flag(MULTIROOT_FLAG));
            if !istiod {
                reasons.push(format!("istiod does not set {MULTIROOT_FLAG}=true"));
            }
            let agent = mesh
                .config
                .default_config
                .proxy_metadata
                .get(XDS_AGENT_FLAG);
            if agent.is_none_or(|v| !v.eq_ignore_ascii_case("true")) {
                reasons.push(format!(
                    "proxies lack proxyMetadata.{XDS_AGENT_FLAG}: \"true\""
                ));
            }
        }
        if !non_ca.is_empty() {
            reasons.push(format!(
                "the PEM holds {} certificate(s) that are not CAs (e.g. `{}`)",
                non_ca.len(),
                non_ca[0].subject
            ));
        }
        if extra.certs.is_empty() && !extra.errors.is_empty() {
            reasons.push("the PEM holds no parseable certificate".to_string());
        }
        if reasons.is_empty() {
            continue;
        }
        let field = format!("data.mesh (caCertificates[{}])", extra.index);
        let mut finding = Finding::new(
            &CHECK.info,
            view.side,
            format!(
                "{}'s meshConfig.caCertificates[{}] adds roots its proxies never receive: {}.",
                mesh.name,
                extra.index,
                reasons.join("; ")
            ),
        );
        finding = match &mesh.config_source {
            Some(src) => {
                finding.evidence(Evidence::object(view.side, src, Some("data.mesh"), field))
            }
            None => finding.evidence(Evidence::fact(view.side, field)),
        };
        for cert in new_roots {
            finding = finding.evidence(
                Evidence::fact(view.side, "root declared but not distributed")
                    .with_certificate(cert),
            );
        }
        if let Some(istiod) = &mesh.istiod {
            finding = finding.evidence(Evidence::object(
                view.side,
                &istiod.source,
                Some("spec.template.spec.containers"),
                "istiod environment",
            ));
        }
        out.push(
            finding
                .fix("Enable multi-root distribution on istiod and the proxies, then restart the proxies.")
                .fix_yaml(format!(
                    "# ConfigMap {ns}/istio, key `mesh`\n\
                     defaultConfig:\n  proxyMetadata:\n    {XDS_AGENT_FLAG}: \"true\"\n\
                     ---\n# Deployment {ns}/istiod, container discovery\n\
                     env:\n- name: {MULTIROOT_FLAG}\n  value: \"true\"",
                    ns = mesh.system_namespace()
                ))
                .fix_command(format!(
                    "kubectl -n {} set env deploy/istiod {MULTIROOT_FLAG}=true && kubectl rollout restart deploy -n <each namespace>",
                    mesh.system_namespace()
                )),
        );
    }
    out
}
