//! Envoy admin documents → model facts. Each parser takes the body as Envoy serves it and
//! keeps only public facts; unknown shapes yield nothing rather than an error, because Envoy
//! versions differ in details (`match_subject_alt_names` vs `match_typed_subject_alt_names`).

use std::collections::BTreeSet;

use checks::model::{ClusterTls, CounterScope, LoadedCertificate, TlsCounter, canonical_serial};
use checks::time::Timestamp;
use serde_json::Value;

/// The counters the checks read; Envoy has many more under `ssl.` (ciphers, curves, …).
pub const COUNTERS: &[&str] = &[
    "connection_error",
    "fail_verify_error",
    "fail_verify_no_cert",
    "fail_verify_san",
    "handshake",
];

/// `/certs`: the roots (`ca_cert`) and presented leaves (first of each `cert_chain`) of every
/// TLS context, each distinct serial once.
pub fn certificates(
    body: &Value,
) -> Result<(Vec<LoadedCertificate>, Vec<LoadedCertificate>), String> {
    let contexts = body
        .get("certificates")
        .and_then(Value::as_array)
        .ok_or("no `certificates` array (is this Envoy's /certs?)")?;
    let mut roots = Vec::new();
    let mut leaves = Vec::new();
    for context in contexts {
        for root in array(context, "ca_cert") {
            push_distinct(&mut roots, loaded(root));
        }
        if let Some(leaf) = array(context, "cert_chain").first() {
            push_distinct(&mut leaves, loaded(leaf));
        }
    }
    Ok((roots, leaves))
}

fn array<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn push_distinct(list: &mut Vec<LoadedCertificate>, cert: Option<LoadedCertificate>) {
    if let Some(cert) = cert
        && !list.iter().any(|c| c.serial == cert.serial)
    {
        list.push(cert);
    }
}

/// One `CertificateDetails`.
fn loaded(details: &Value) -> Option<LoadedCertificate> {
    let serial = details.get("serial_number").and_then(Value::as_str)?;
    let mut uri_sans = Vec::new();
    let mut dns_sans = Vec::new();
    for san in array(details, "subject_alt_names") {
        if let Some(uri) = san.get("uri").and_then(Value::as_str) {
            uri_sans.push(uri.to_string());
        } else if let Some(dns) = san.get("dns").and_then(Value::as_str) {
            dns_sans.push(dns.to_string());
        }
    }
    let time = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .and_then(|t| Timestamp::parse_rfc3339(t).ok())
    };
    Some(LoadedCertificate {
        serial: canonical_serial(serial),
        uri_sans,
        dns_sans,
        valid_from: time("valid_from"),
        expiration: time("expiration_time"),
    })
}

/// `/config_dump?resource=dynamic_active_clusters` (or a whole config dump): the TLS settings
/// of the clusters `wanted` accepts by name.
pub fn clusters(body: &Value, wanted: impl Fn(&str) -> bool) -> Vec<ClusterTls> {
    let mut out = Vec::new();
    for config in array(body, "configs") {
        // `resource=` yields DynamicCluster entries; a full dump nests them in
        // ClustersConfigDump.
        let entries = std::iter::once(config)
            .chain(array(config, "dynamic_active_clusters"))
            .chain(array(config, "static_clusters"));
        for entry in entries {
            let Some(cluster) = entry.get("cluster") else {
                continue;
            };
            let Some(name) = cluster.get("name").and_then(Value::as_str) else {
                continue;
            };
            if wanted(name) {
                out.push(cluster_tls(name, cluster));
            }
        }
    }
    out
}

fn cluster_tls(name: &str, cluster: &Value) -> ClusterTls {
    // Auto mTLS: TLS only for endpoints labelled tlsMode=istio, plaintext otherwise.
    let matched = array(cluster, "transport_socket_matches")
        .iter()
        .find_map(|m| {
            let wants_istio = m.pointer("/match/tlsMode").and_then(Value::as_str) == Some("istio");
            wants_istio.then(|| upstream_tls(m.get("transport_socket")?))?
        });
    let direct = cluster.get("transport_socket").and_then(upstream_tls);
    let (tls, auto) = match (direct, matched) {
        (Some(tls), _) => (Some(tls), false),
        (None, Some(tls)) => (Some(tls), true),
        (None, None) => (None, false),
    };
    let Some(tls) = tls else {
        return ClusterTls {
            name: name.to_string(),
            mode: "DISABLE".into(),
            auto: false,
            sni: None,
            sans: Vec::new(),
            alpn: Vec::new(),
            client_certificate: None,
        };
    };
    let common = tls.get("common_tls_context").unwrap_or(&Value::Null);
    let client_certificate = array(common, "tls_certificate_sds_secret_configs")
        .first()
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            (!array(common, "tls_certificates").is_empty()).then(|| "<inline>".to_string())
        });
    let mode = match client_certificate.as_deref() {
        Some("default") => "ISTIO_MUTUAL",
        Some(_) => "MUTUAL",
        None => "SIMPLE",
    };
    ClusterTls {
        name: name.to_string(),
        mode: mode.into(),
        auto,
        sni: tls.get("sni").and_then(Value::as_str).map(str::to_string),
        sans: subject_alt_names(common),
        alpn: array(common, "alpn_protocols")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        client_certificate,
    }
}

/// The `UpstreamTlsContext` of a transport socket, if it is the TLS one.
fn upstream_tls(socket: &Value) -> Option<&Value> {
    let config = socket.get("typed_config")?;
    let kind = config.get("@type").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("UpstreamTlsContext").then_some(config)
}

/// SAN matchers from any validation context shape, as `exact` values (others as
/// `prefix:…`, `suffix:…`, `regex:…` so that a difference still shows), sorted.
fn subject_alt_names(common: &Value) -> Vec<String> {
    let contexts = [
        common.pointer("/combined_validation_context/default_validation_context"),
        common.get("validation_context"),
    ];
    let mut sans = BTreeSet::new();
    for context in contexts.into_iter().flatten() {
        for matcher in array(context, "match_subject_alt_names") {
            sans.extend(matcher_text(matcher));
        }
        for typed in array(context, "match_typed_subject_alt_names") {
            if let Some(matcher) = typed.get("matcher") {
                sans.extend(matcher_text(matcher));
            }
        }
    }
    sans.into_iter().collect()
}

fn matcher_text(matcher: &Value) -> Option<String> {
    for kind in ["exact", "prefix", "suffix", "contains"] {
        if let Some(v) = matcher.get(kind).and_then(Value::as_str) {
            return Some(if kind == "exact" {
                v.to_string()
            } else {
                format!("{kind}:{v}")
            });
        }
    }
    matcher
        .pointer("/safe_regex/regex")
        .and_then(Value::as_str)
        .map(|r| format!("regex:{r}"))
}

/// `/stats?filter=ssl` in Envoy's text format (`name: value` per line): the counters the
/// checks read, per cluster or listener. Histograms and gauges that do not parse are skipped.
pub fn ssl_counters(text: &str) -> Vec<(CounterScope, String, String, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(": ") else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        let Some((owner, counter)) = name.rsplit_once(".ssl.") else {
            continue;
        };
        if !COUNTERS.contains(&counter) {
            continue;
        }
        let (scope, owner) = if let Some(cluster) = owner.strip_prefix("cluster.") {
            (CounterScope::Cluster, cluster)
        } else if let Some(listener) = owner.strip_prefix("listener.") {
            (CounterScope::Listener, listener)
        } else {
            continue;
        };
        out.push((scope, owner.to_string(), counter.to_string(), value));
    }
    out
}

/// Two samples → counters with their rise (a counter reset counts as no rise).
pub fn counters_between(
    first: &[(CounterScope, String, String, u64)],
    second: &[(CounterScope, String, String, u64)],
) -> Vec<TlsCounter> {
    let before: std::collections::HashMap<(CounterScope, &str, &str), u64> = first
        .iter()
        .map(|(s, o, c, v)| ((*s, o.as_str(), c.as_str()), *v))
        .collect();
    second
        .iter()
        .map(|(scope, owner, counter, value)| TlsCounter {
            scope: *scope,
            owner: owner.clone(),
            counter: counter.clone(),
            value: *value,
            rise: value.saturating_sub(
                before
                    .get(&(*scope, owner.as_str(), counter.as_str()))
                    .copied()
                    .unwrap_or(0),
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn certs_keep_distinct_roots_and_first_leaf() {
        let doc = json!({"certificates": [
            {"ca_cert": [{"serial_number": "00ab", "subject_alt_names": [], "expiration_time": "2030-01-01T00:00:00Z"}],
             "cert_chain": [{"serial_number": "1", "subject_alt_names": [{"uri": "spiffe://td/ns/a/sa/b"}]},
                            {"serial_number": "2"}]},
            {"ca_cert": [{"serial_number": "ab"}], "cert_chain": []}
        ]});
        let (roots, leaves) = certificates(&doc).expect("certs");
        assert_eq!(roots.len(), 1);
        assert_eq!(roots[0].serial, "ab");
        assert!(roots[0].expiration.is_some());
        assert_eq!(leaves.len(), 1);
        assert_eq!(leaves[0].spiffe_id(), Some("spiffe://td/ns/a/sa/b"));
        assert!(certificates(&json!({"clusters": []})).is_err());
    }

    #[test]
    fn auto_mtls_cluster_reads_the_istio_socket() {
        let doc = json!({"configs": [{"cluster": {
            "name": "outbound|8080||api.example",
            "transport_socket_matches": [
                {"name": "tlsMode-istio", "match": {"tlsMode": "istio"}, "transport_socket": {"name": "tls", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "sni": "outbound_.8080_._.api.example",
                    "common_tls_context": {
                        "alpn_protocols": ["istio-peer-exchange", "istio"],
                        "tls_certificate_sds_secret_configs": [{"name": "default"}],
                        "combined_validation_context": {"default_validation_context": {
                            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": "spiffe://b/ns/p/sa/api"}}]}}}}}},
                {"name": "tlsMode-disabled", "match": {}, "transport_socket": {"name": "envoy.transport_sockets.raw_buffer"}}]}},
            {"cluster": {"name": "outbound|80||other"}}]});
        let found = clusters(&doc, |n| n.ends_with("|api.example"));
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!(
            (c.mode.as_str(), c.auto, c.sni.as_deref()),
            ("ISTIO_MUTUAL", true, Some("outbound_.8080_._.api.example"))
        );
        assert_eq!(c.sans, vec!["spiffe://b/ns/p/sa/api"]);
        let plain = clusters(&doc, |n| n == "outbound|80||other");
        assert_eq!(plain[0].mode, "DISABLE");
    }

    #[test]
    fn stats_split_owner_and_counter() {
        let text = "cluster.outbound|8080||api.payments.mesh-b.global.ssl.fail_verify_san: 7\n\
                    listener.0.0.0.0_15443.ssl.fail_verify_error: 3\n\
                    listener.0.0.0.0_15443.ssl.ciphers.TLS_AES_128_GCM_SHA256: 9\n\
                    cluster.x.ssl.handshake: garbage\n";
        let parsed = ssl_counters(text);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].1, "outbound|8080||api.payments.mesh-b.global");
        assert_eq!(
            parsed[1],
            (
                CounterScope::Listener,
                "0.0.0.0_15443".into(),
                "fail_verify_error".into(),
                3
            )
        );
        let rose = counters_between(
            &[(
                CounterScope::Listener,
                "0.0.0.0_15443".into(),
                "fail_verify_error".into(),
                1,
            )],
            &parsed,
        );
        assert_eq!(rose[1].rise, 2);
        assert_eq!(rose[0].rise, 7);
    }
}
