use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::model::Side;

crate::declare_check! {
    /// Bytes that should be a certificate cannot be parsed.
    ///
    /// **What it checks.** Every PEM value the tool reads — CA Secrets, TLS Secrets,
    /// `istio-ca-root-cert`, `meshConfig.caCertificates` — must consist of complete PEM blocks
    /// (or DER) holding valid X.509 certificates. Truncated blocks, bad base64 and garbage DER
    /// are reported with the Secret key and the line inside the value.
    ///
    /// **Why it breaks.** istiod and Envoy reject the whole bundle, or silently drop the bad
    /// certificate: the trust or chain it was meant to provide is gone.
    ///
    /// **How to fix.** Re-create the value from the original file (`kubectl create secret
    /// generic ... --from-file=`), which avoids copy-and-paste truncation.
    pub static CHECK = {
        code: "C005",
        name: "certificate-unparseable",
        category: Certificates,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        let mesh = view.mesh;
        let secrets = mesh
            .secrets
            .iter()
            .flat_map(|s| s.spec.entries.iter().map(move |(k, e)| (&s.source, k, e)));
        let config_maps = mesh
            .config_maps
            .iter()
            .flat_map(|c| c.spec.pem.iter().map(move |(k, e)| (&c.source, k, e)));
        for (source, key, entry) in secrets.chain(config_maps) {
            for err in &entry.errors {
                out.push(
                    finding(
                        view.side,
                        &mesh.name,
                        &format!("{} key `{key}`", source.object),
                        &err.message,
                        err.line,
                    )
                    .evidence(Evidence::object(
                        view.side,
                        source,
                        Some(&format!("data.{key}")),
                        format!("line {} of the value: {}", err.line, err.message),
                    )),
                );
            }
        }
        for extra in &view.trust.extra_roots {
            for err in &extra.errors {
                let what = format!("meshConfig.caCertificates[{}].pem", extra.index);
                let mut f = finding(view.side, &mesh.name, &what, &err.message, err.line);
                if let Some(src) = &mesh.config_source {
                    f = f.evidence(Evidence::object(
                        view.side,
                        src,
                        Some("data.mesh"),
                        what.clone(),
                    ));
                }
                out.push(f);
            }
        }
    }
    out
}

fn finding(side: Side, mesh: &str, what: &str, message: &str, line: u32) -> Finding {
    Finding::new(
        &CHECK.info,
        side,
        format!("In {mesh}, {what} is not a valid certificate (line {line} of the value): {message}."),
    )
    .fix("Re-create the value from the original PEM file, e.g. `kubectl create secret generic <name> --from-file=<key>=<file>`.")
}
