//! YAML/JSON text → objects → typed meshes → every check. Nothing may panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

use checks::model::{MeshBuilder, Origin, RawObject, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let decoded = checks::yaml::decode(text, checks::yaml::Budget { max_depth: 64, max_nodes: 100_000 });
    let mut client = MeshBuilder::new("client");
    for doc in decoded.documents {
        let _ = checks::yaml::locate(text, doc.index, "spec.servers[0].tls.mode");
        client.add(RawObject::new(doc.value, Origin::Default));
    }
    let snapshot = Snapshot {
        at: checks::time::Timestamp(1_800_000_000),
        expiry_warning_days: 30,
        client: client.finish(),
        server: MeshBuilder::new("server").finish(),
        hosts: Vec::new(),
        probes: Vec::new(),
    };
    let _ = checks::engine::run(&snapshot, &checks::engine::Options::default());
});
