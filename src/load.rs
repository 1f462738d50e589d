//! Reading offline inputs: files and directories of Kubernetes objects, YAML or JSON.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use checks::model::{MeshBuilder, Origin, RawObject};
use checks::yaml::{self, Budget, Position};

/// Files larger than this are reported (E002) instead of read: no Kubernetes manifest set
/// needs more, and it bounds memory on hostile input.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The text of every file read, so that findings can point at the exact line of a field.
#[derive(Default)]
pub struct SourceTexts {
    texts: HashMap<String, Arc<str>>,
    /// Mesh CA material for minting probe identities; only filled when probing.
    pub signing: Vec<crate::probe::SigningCa>,
    pub capture_signing: bool,
}

impl SourceTexts {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.texts.get(path).map(|t| &**t)
    }

    /// The text of `path` from the start of 1-based `line` on.
    pub fn from_line(&self, path: &str, line: u32) -> Option<&str> {
        let text = self.get(path)?;
        if line <= 1 {
            return Some(text);
        }
        let offset = text
            .match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)?;
        text.get(offset..)
    }
}

/// An input path that cannot be read at all: a usage error (exit 2).
#[derive(Debug)]
pub struct UnreadablePath {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for UnreadablePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot read input `{}`: {}",
            self.path.display(),
            self.reason
        )
    }
}

/// Reads every path into `builder`. Problems inside files become E002 findings; a path that
/// does not exist or cannot be opened is an error.
pub fn load_paths(
    paths: &[PathBuf],
    builder: &mut MeshBuilder,
    texts: &mut SourceTexts,
) -> Result<(), UnreadablePath> {
    for path in paths {
        let meta = fs::metadata(path).map_err(|e| UnreadablePath {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let mut visited = HashSet::new();
            collect_files(path, &mut files, &mut visited, builder);
            files.sort();
            for file in files {
                load_file(&file, builder, texts);
            }
        } else {
            fs::File::open(path).map_err(|e| UnreadablePath {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            load_file(path, builder, texts);
        }
    }
    Ok(())
}

/// Walks a directory for `.yaml`, `.yml` and `.json` files, following symlinks once.
fn collect_files(
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
    builder: &mut MeshBuilder,
) {
    let Ok(canonical) = fs::canonicalize(dir) else {
        return;
    };
    if !visited.insert(canonical) {
        return; // A symlink loop, or a directory reached twice.
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            builder.invalid(origin_of(dir), format!("cannot read directory: {e}"));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, files, visited, builder);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(path);
        }
    }
}

fn origin_of(path: &Path) -> Origin {
    Origin::file(
        path.display().to_string(),
        0,
        Position { line: 1, column: 1 },
    )
}

/// Reads one file; every problem becomes an E002 entry and the good documents are kept.
/// A snapshot's `snapshot.json` manifest contributes what the snapshot could not read (E001).
pub fn load_file(path: &Path, builder: &mut MeshBuilder, texts: &mut SourceTexts) {
    let name = path.display().to_string();
    if path.file_name().and_then(|n| n.to_str()) == Some(crate::snapshot::MANIFEST) {
        return load_manifest(path, builder);
    }
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        builder.invalid(
            origin_of(path),
            format!(
                "file is {size} bytes, over the limit of {MAX_FILE_BYTES} bytes per input file"
            ),
        );
        return;
    }
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return builder.invalid(origin_of(path), format!("cannot read file: {e}")),
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            builder.invalid(
                Origin::file(name, 0, Position { line, column }),
                format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            );
            return;
        }
    };
    let decoded = yaml::decode(&text, Budget::default());
    for doc in decoded.documents {
        if texts.capture_signing
            && let Some(ca) = crate::probe::SigningCa::from_secret(&doc.value)
        {
            texts.signing.push(ca);
        }
        builder.add(RawObject::new(
            doc.value,
            Origin::file(name.clone(), doc.index, doc.start),
        ));
    }
    if let Some(err) = decoded.error {
        builder.invalid(
            Origin::file(name.clone(), err.document, err.position),
            format!(
                "document {} is not valid YAML: {}",
                err.document + 1,
                err.message
            ),
        );
    }
    texts.texts.insert(name, text.into());
}

fn load_manifest(path: &Path, builder: &mut MeshBuilder) {
    let manifest = fs::read(path).map_err(|e| e.to_string()).and_then(|bytes| {
        serde_json::from_slice::<crate::snapshot::Manifest>(&bytes).map_err(|e| e.to_string())
    });
    match manifest {
        Ok(manifest) => {
            for missing in manifest.unavailable {
                builder.unavailable(missing);
            }
        }
        Err(e) => builder.invalid(
            origin_of(path),
            format!("not an istio-peer snapshot manifest: {e}"),
        ),
    }
}
