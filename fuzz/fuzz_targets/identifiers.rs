//! SPIFFE IDs, principals, Istio SNIs, host and scope matching.
#![no_main]
use libfuzzer_sys::fuzz_target;

use checks::analysis::index::{exported_to, host_matches, scoped_host_admits};
use checks::analysis::route::parse_istio_sni_parts;
use checks::spiffe::{SpiffeId, trust_domain_of};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mid = (0..=text.len() / 2).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let (a, b) = text.split_at(mid);
    if let Some(id) = SpiffeId::parse(text) {
        assert_eq!(SpiffeId::parse(&id.uri()), Some(id));
    }
    let _ = SpiffeId::parse_principal(text);
    let _ = trust_domain_of(text);
    if let Some((port, subset, host)) = parse_istio_sni_parts(text) {
        assert_eq!(parse_istio_sni_parts(&format!("outbound_.{port}_.{subset}_.{host}")), Some((port, subset, host)));
    }
    let _ = host_matches(a, b);
    let _ = scoped_host_admits(a, b, "ns", "gw");
    let _ = exported_to(&[a.to_string()], b, a);
    let _ = checks::policy::glob(a, b);
});
