//! Rule files (YAML + CEL) and plug-in answers: never a panic, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

use checks::model::{Mesh, Side, Snapshot};
use checks::time::Timestamp;
use checks::user::rules;

fuzz_target!(|data: &[u8]| {
    let snapshot = Snapshot {
        at: Timestamp(0),
        expiry_warning_days: 30,
        client: Mesh::default(),
        server: Mesh::default(),
        hosts: Vec::new(),
        probes: Vec::new(),
        proxies: Vec::new(),
    };
    let _ = checks::user::plugin_findings("fuzz", data, &snapshot);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rules::expand_has(text);
    let (parsed, _) = rules::parse("fuzz.yaml", text);
    let object = serde_json::json!({"kind": "DestinationRule", "metadata": {"name": "a"}, "spec": {"host": text}});
    for rule in &parsed {
        let _ = rule.evaluate(&object, Side::Client);
    }
});
