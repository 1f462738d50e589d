//! Shared test helpers: running the binary, locating fixtures and shared material.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The output of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn istio_peer(args: &[&str]) -> Run {
    istio_peer_in(&root(), args)
}

/// Runs the binary in working directory `cwd`.
pub fn istio_peer_in(cwd: &Path, args: &[&str]) -> Run {
    // A plug-in on the developer's PATH must not join the tests' runs.
    let out = Command::new(env!("CARGO_BIN_EXE_istio-peer"))
        .current_dir(cwd)
        .env("PATH", "/usr/bin:/bin")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run istio-peer");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `doctor` on a directory's client/ and server/ at a fixed instant.
pub fn doctor(scenario_dir: &Path, at: &str, extra: &[&str]) -> Run {
    doctor_on(
        &scenario_dir.join("client"),
        &scenario_dir.join("server"),
        at,
        extra,
    )
}

/// `doctor` on explicit client and server inputs at a fixed instant.
pub fn doctor_on(client: &Path, server: &Path, at: &str, extra: &[&str]) -> Run {
    let (client, server) = (client.to_string_lossy(), server.to_string_lossy());
    let mut args = vec![
        "doctor", "--client", &client, "--server", &server, "--at", at,
    ];
    args.extend_from_slice(extra);
    istio_peer(&args)
}

/// Runs the binary off the async runtime, so that in-process servers keep serving.
pub async fn istio_peer_async(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        istio_peer(&refs)
    })
    .await
    .expect("istio-peer ran")
}

/// Copies the files (not subdirectories) of fixture directory `from` into a new directory
/// `to`, each text passed through `edit`.
pub fn copy_fixture(from: &Path, to: &Path, edit: impl Fn(String) -> String) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from)
        .expect("fixture directory")
        .flatten()
    {
        if !entry.path().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("read fixture");
        std::fs::write(to.join(entry.file_name()), edit(text)).expect("write copy");
    }
}

/// Istio's published sample material in `../shared/istio`. Under CI it must exist; elsewhere
/// a test without it is skipped with a printed reason.
pub fn shared_istio() -> Option<PathBuf> {
    let dir = root().join("../shared/istio");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/istio is missing, and CI=true requires it");
    }
    eprintln!("skipped: ../shared/istio is not present (Istio's sample certificates and CRDs)");
    None
}

/// The findings of a JSON report with this code.
pub fn with_code<'r>(report: &'r serde_json::Value, code: &str) -> Vec<&'r serde_json::Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["code"] == code)
        .collect()
}

/// Every finding's code in a JSON report, in report order.
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str().map(str::to_string))
        .collect()
}

/// Writes an executable shell script `istio-peer-check-<name>` (a plug-in) into `dir`.
pub fn write_plugin(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("istio-peer-check-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write plug-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
