use super::evidence::{service_entry, with};
use crate::context::Context;
use crate::finding::Finding;
use crate::model::Side;

crate::declare_check! {
    /// The client cannot tell connections to the remote host apart, or cannot resolve it.
    ///
    /// **What it checks.** A TCP/TLS ServiceEntry port needs a virtual IP: `addresses`, or
    /// DNS proxying with auto-allocation (`ISTIO_META_DNS_CAPTURE` and
    /// `ISTIO_META_DNS_AUTO_ALLOCATE`). The check also reports a remote host that shadows one
    /// of A's own Services.
    ///
    /// **Why it breaks.** Without a VIP, TCP listeners match by port only: the sidecar sends
    /// the traffic to whichever service owns `0.0.0.0:<port>`, or passes it through in
    /// plaintext. A name that is not in DNS fails before any connection (`NXDOMAIN`).
    ///
    /// **How to fix.** Give the ServiceEntry `addresses` (a VIP such as `240.240.0.10`), or
    /// enable DNS capture with auto-allocation; use a host name that no local Service has.
    pub static CHECK = {
        code: "R005",
        name: "dns-or-vip",
        category: Routing,
        severity: Error,
        run: run,
    };
}

const L4_PROTOCOLS: &[&str] = &["TCP", "TLS", "MONGO", "MYSQL", "REDIS", ""];

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    let meta = &cx.client.mesh.config.default_config.proxy_metadata;
    let flag = |k: &str| meta.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let auto_allocated = flag("ISTIO_META_DNS_CAPTURE") && flag("ISTIO_META_DNS_AUTO_ALLOCATE");
    for route in &cx.routes {
        let Some(se_source) = &route.service_entry else {
            continue;
        };
        let Some(se) = cx
            .client
            .index
            .service_entries_for(&route.host)
            .find(|s| &s.source == se_source)
        else {
            continue;
        };
        let mut reasons = Vec::new();
        let l4 = L4_PROTOCOLS.contains(&route.protocol.to_ascii_uppercase().as_str());
        if l4 && se.spec.addresses.is_empty() && !auto_allocated && se.spec.resolution != "NONE" {
            reasons.push(format!("port {} is {} but the ServiceEntry has no addresses and DNS auto-allocation is off", route.port, if route.protocol.is_empty() { "unnamed (TCP)" } else { &route.protocol }));
        }
        if cx.client.index.service_by_host(&route.host).is_some() {
            reasons.push(format!(
                "{} is also one of {}'s own Services",
                route.host, cx.client.mesh.name
            ));
        }
        if reasons.is_empty() {
            continue;
        }
        let f = Finding::new(
            &CHECK.info,
            Side::Client,
            format!("{}: {}.", route.host, reasons.join("; ")),
        )
        .route(route.id.clone());
        out.push(
            with(f, service_entry(route, "spec.ports", "TCP port without a VIP"))
                .fix("Give the ServiceEntry a VIP (or enable DNS auto-allocation).")
                .fix_yaml("# ServiceEntry\nspec:\n  addresses:\n  - 240.240.0.10\n---\n# or, ConfigMap istio-system/istio, key `mesh`\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n    ISTIO_META_DNS_AUTO_ALLOCATE: \"true\""),
        );
    }
    out
}
