//! PEM/DER bundles → certificates and keys → chain building against themselves.
#![no_main]
use libfuzzer_sys::fuzz_target;

use checks::pki::{Bundle, CertificateCache, verify};

fuzz_target!(|data: &[u8]| {
    let bundle = Bundle::decode(data, &mut CertificateCache::default());
    for key in &bundle.keys {
        for cert in &bundle.certificates {
            let _ = key.matches(cert);
        }
    }
    if let Some((leaf, rest)) = bundle.certificates.split_first() {
        let _ = verify(leaf, rest, &bundle.certificates, checks::time::Timestamp(1_800_000_000));
    }
});
