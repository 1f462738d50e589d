//! `istio-peer doctor`: load both meshes, run the checks, render, decide the exit code.

use std::io::Write;
use std::path::PathBuf;

use checks::engine::{self, Options, Report};
use checks::model::{MeshBuilder, Snapshot};
use checks::time::Timestamp;

use crate::cli::{DoctorArgs, EXIT_USAGE, ReportFormat};
use crate::load::{SourceTexts, load_paths};
use crate::render;

/// Runs `doctor` and returns the exit code.
pub fn run(args: &DoctorArgs, out: &mut impl Write) -> u8 {
    let (report, _texts) = match diagnose(args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("istio-peer: {message}");
            return EXIT_USAGE;
        }
    };
    let text = match args.output {
        ReportFormat::Table => render::table(&report, render::use_color()),
        ReportFormat::Json => render::json(&report),
    };
    if writeln!(out, "{text}").is_err() {
        return 1;
    }
    report.verdict.exit_code()
}

/// Loads the inputs and runs the engine; field positions in evidence are resolved.
pub fn diagnose(args: &DoctorArgs) -> Result<(Report, SourceTexts), String> {
    let mut texts = SourceTexts::default();
    let client = load_mesh(&args.client, args.client_name.as_deref(), &mut texts)?;
    let server = load_mesh(&args.server, args.server_name.as_deref(), &mut texts)?;
    let snapshot = Snapshot {
        at: args.at.unwrap_or_else(now),
        expiry_warning_days: args.expiry_warning,
        client,
        server,
        hosts: args.hosts.clone(),
    };
    let mut report = engine::run(
        &snapshot,
        &Options {
            fail_on: args.fail_on.into(),
        },
    );
    render::resolve_field_positions(&mut report, &texts);
    Ok((report, texts))
}

fn load_mesh(
    paths: &[PathBuf],
    name: Option<&str>,
    texts: &mut SourceTexts,
) -> Result<checks::model::Mesh, String> {
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| default_name(paths));
    let mut builder = MeshBuilder::new(name);
    load_paths(paths, &mut builder, texts).map_err(|e| e.to_string())?;
    Ok(builder.finish())
}

/// `fixtures/scenarios/healthy/client` → `client`.
fn default_name(paths: &[PathBuf]) -> String {
    paths
        .first()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mesh".into())
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp(secs)
}
