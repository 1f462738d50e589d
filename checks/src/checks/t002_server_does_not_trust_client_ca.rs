use crate::context::Context;
use crate::finding::Finding;

crate::declare_check! {
    /// The server mesh does not trust the client mesh's CA.
    ///
    /// **What it checks.** The reverse of T001: A's workloads present certificates issued by
    /// A's CA; B's sidecars (or a gateway terminating ISTIO_MUTUAL) verify them against B's root
    /// set. The check builds A's chain to a root B trusts.
    ///
    /// **Why it breaks.** B rejects the client certificate: A's proxy sees the alert
    /// `TLSV1_ALERT_UNKNOWN_CA` (268436504); with TLS 1.3 this happens *after* A's handshake
    /// completed, on the first read, so it shows as a reset or `503 UF` on the caller.
    ///
    /// **How to fix.** One shared root for both meshes, or add A's root to B's
    /// `meshConfig.caCertificates` with the multi-root flags set (see T003).
    pub static CHECK = {
        code: "T002",
        name: "server-does-not-trust-client-ca",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    super::trust_direction::server_trusts_client(cx, &CHECK.info)
}
