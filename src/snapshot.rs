//! `istio-peer snapshot`: what a live run reads, written as YAML for later offline runs.
//!
//! One file per kind (`<kind>.yaml`, a `kind: List`), Secrets already redacted by the
//! collector, and `snapshot.json`: which cluster, when, by which version, and what could not
//! be read — so that a run on the snapshot reports the same gaps (E001) as the live run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use checks::model::UnavailableInput;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::{EXIT_USAGE, SnapshotArgs};
use crate::live::{self, Collected, LiveTarget};

/// The manifest's file name.
pub const MANIFEST: &str = "snapshot.json";

/// `snapshot.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    pub context: String,
    pub server: String,
    /// RFC 3339.
    pub collected_at: String,
    /// Objects written per kind.
    pub objects: BTreeMap<String, usize>,
    /// What could not be read.
    pub unavailable: Vec<UnavailableInput>,
}

pub fn run(args: &SnapshotArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("istio-peer: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let target = LiveTarget {
        context: args.context.clone(),
        kubeconfig: args.live.kubeconfig.clone(),
    };
    let options = args.live.options(false);
    let collected = runtime.block_on(live::collect(&target, &options));
    match write(&args.output, &collected) {
        Ok(manifest) => {
            let total: usize = manifest.objects.values().sum();
            eprintln!(
                "wrote {total} objects from context `{}` to {}",
                args.context,
                args.output.display()
            );
            for missing in &manifest.unavailable {
                eprintln!("  could not read {}: {}", missing.what, missing.reason);
            }
            if manifest.unavailable.is_empty() {
                0
            } else {
                3
            }
        }
        Err(e) => {
            eprintln!(
                "istio-peer: cannot write snapshot to {}: {e}",
                args.output.display()
            );
            EXIT_USAGE
        }
    }
}

/// Writes the collected objects and the manifest into `dir`.
pub fn write(dir: &Path, collected: &Collected) -> std::io::Result<Manifest> {
    fs::create_dir_all(dir)?;
    let mut by_kind: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for object in &collected.objects {
        by_kind
            .entry(object.kind().to_string())
            .or_default()
            .push(&object.body);
    }
    let mut counts = BTreeMap::new();
    for (kind, items) in &by_kind {
        let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
        let yaml = serde_saphyr::to_string(&list).map_err(std::io::Error::other)?;
        fs::write(dir.join(format!("{}.yaml", kind.to_lowercase())), yaml)?;
        counts.insert(kind.clone(), items.len());
    }
    let manifest = Manifest {
        tool: "istio-peer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        context: collected.context.clone(),
        server: collected.server.clone(),
        collected_at: crate::now().to_string(),
        objects: counts,
        unavailable: collected.unavailable.clone(),
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    fs::write(dir.join(MANIFEST), text)?;
    Ok(manifest)
}
