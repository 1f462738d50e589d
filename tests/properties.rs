//! Property tests: SPIFFE IDs and SNIs round-trip, host matching follows Istio's rules, and the
//! decoders never panic on arbitrary input.

use checks::analysis::index::{exported_to, host_matches, scoped_host_admits};
use checks::analysis::route::{parse_istio_sni, parse_istio_sni_parts};
use checks::spiffe::SpiffeId;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}"
}

fn dns_name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|labels| labels.join("."))
}

proptest! {
    #[test]
    fn spiffe_ids_round_trip(td in dns_name(), ns in label(), sa in label()) {
        let id = SpiffeId::new(&td, &ns, &sa);
        prop_assert_eq!(SpiffeId::parse(&id.uri()), Some(id.clone()));
        prop_assert_eq!(SpiffeId::parse_principal(&id.principal()), Some(id));
    }

    #[test]
    fn istio_snis_round_trip(port in 1u32..65536, subset in "[a-z0-9-]{0,8}", host in dns_name()) {
        let sni = format!("outbound_.{port}_.{subset}_.{host}");
        prop_assert_eq!(parse_istio_sni_parts(&sni), Some((port, subset, host.clone())));
        prop_assert_eq!(parse_istio_sni(&sni), Some((port, host)));
    }

    #[test]
    fn wildcards_match_exactly_the_subdomains(prefix in label(), suffix in dns_name()) {
        let host = format!("{prefix}.{suffix}");
        let wildcard = format!("*.{suffix}");
        prop_assert!(host_matches(&wildcard, &host));
        prop_assert!(host_matches("*", &host));
        prop_assert!(host_matches(&host, &host));
        prop_assert!(!host_matches(&wildcard, &suffix), "`*.x` does not match `x` itself");
        let any_namespace = format!("*/{wildcard}");
        let local = format!("{host}.local");
        prop_assert!(scoped_host_admits(&any_namespace, &host, "any", "gw"));
        prop_assert!(scoped_host_admits("*.local", &local, "ns", "gw"));
    }

    #[test]
    fn export_to_semantics(own in label(), other in label()) {
        prop_assert!(exported_to(&[], &own, &other));
        prop_assert!(exported_to(&["*".into()], &own, &other));
        prop_assert!(exported_to(&[".".into()], &own, &own));
        prop_assert_eq!(exported_to(&[".".into()], &own, &other), own == other);
        prop_assert!(!exported_to(&["~".into()], &own, &own));
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = checks::yaml::decode(&text, checks::yaml::Budget::default());
        let _ = checks::yaml::locate(&text, 0, "spec.a[0].b");
        let _ = checks::pki::Bundle::decode(&bytes, &mut checks::pki::CertificateCache::default());
        let _ = checks::pki::Certificate::from_der(&bytes);
        let _ = SpiffeId::parse(&text);
        let _ = parse_istio_sni(&text);
        let _ = checks::error_text::decode(&text);
    }
}
