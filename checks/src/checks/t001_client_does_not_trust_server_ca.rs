use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// The client mesh does not trust the server mesh's CA.
    ///
    /// **What it checks.** Mesh B's workload certificates are issued by B's CA (`ca-cert.pem`
    /// with `cert-chain.pem` from `cacerts`, or the self-signed `istio-ca-secret`). A's sidecars
    /// verify them against A's root set: the root in `istio-ca-root-cert`, plus
    /// `meshConfig.caCertificates` when multi-root is enabled. The check builds B's chain to a
    /// root in that set, comparing certificates by key and signature, never by name alone.
    ///
    /// **Why it breaks.** Each Istio mesh trusts only its own root by default. Two meshes with
    /// different roots reject each other: A's proxy logs `CERTIFICATE_VERIFY_FAILED`
    /// (268435581) and B's logs `TLSV1_ALERT_UNKNOWN_CA`; the caller sees `503 UF`.
    ///
    /// **How to fix.** Give both meshes intermediates under one shared root (plug-in CA
    /// `cacerts`), or add B's root to A's `meshConfig.caCertificates` with
    /// `ISTIO_MULTIROOT_MESH=true` on istiod and `PROXY_CONFIG_XDS_AGENT: "true"` in the proxy
    /// metadata (see T003), then restart the proxies.
    pub static CHECK = {
        code: "T001",
        name: "client-does-not-trust-server-ca",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::trust_direction::client_trusts_server(cx, &CHECK.info)
}
