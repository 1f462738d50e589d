//! `istio-peer doctor`: load both meshes, run the checks, render, decide the exit code.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use checks::engine::{self, Options, Report};
use checks::model::{MeshBuilder, Side, Snapshot};
use checks::time::Timestamp;

use crate::cli::{DoctorArgs, EXIT_USAGE, ReportFormat};
use crate::live::{self, Collected, LiveTarget};
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

/// Loads the inputs (files and live clusters) and runs the engine; field positions in
/// evidence are resolved.
pub fn diagnose(args: &DoctorArgs) -> Result<(Report, SourceTexts), String> {
    let mut texts = SourceTexts::default();
    let mut live = collect_live(args)?;
    let client = load_mesh(
        &args.client,
        args.client_context.as_deref(),
        live.remove(&Side::Client),
        args.client_name.as_deref(),
        &mut texts,
    )?;
    let server = load_mesh(
        &args.server,
        args.server_context.as_deref(),
        live.remove(&Side::Server),
        args.server_name.as_deref(),
        &mut texts,
    )?;
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

/// Reads both clusters concurrently, when contexts are given.
fn collect_live(args: &DoctorArgs) -> Result<HashMap<Side, Collected>, String> {
    let targets: Vec<(Side, LiveTarget)> = [
        (Side::Client, &args.client_context),
        (Side::Server, &args.server_context),
    ]
    .into_iter()
    .filter_map(|(side, ctx)| {
        ctx.as_ref().map(|c| {
            (
                side,
                LiveTarget {
                    context: c.clone(),
                    kubeconfig: args.live.kubeconfig.clone(),
                },
            )
        })
    })
    .collect();
    if targets.is_empty() {
        return Ok(HashMap::new());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let options = live::Options {
        timeout: Duration::from_secs(args.live.timeout.max(1)),
        verbose: args.live.verbose,
    };
    let sides: Vec<Side> = targets.iter().map(|(s, _)| *s).collect();
    let collected = runtime.block_on(live::collect_many(
        targets.into_iter().map(|(_, t)| t).collect(),
        options,
    ));
    Ok(sides.into_iter().zip(collected).collect())
}

fn load_mesh(
    paths: &[PathBuf],
    context: Option<&str>,
    live: Option<Collected>,
    name: Option<&str>,
    texts: &mut SourceTexts,
) -> Result<checks::model::Mesh, String> {
    let name = name
        .map(str::to_string)
        .or_else(|| context.map(str::to_string))
        .unwrap_or_else(|| default_name(paths));
    let mut builder = MeshBuilder::new(name);
    load_paths(paths, &mut builder, texts).map_err(|e| e.to_string())?;
    if let Some(collected) = live {
        for object in collected.objects {
            builder.add(object);
        }
        for missing in collected.unavailable {
            builder.unavailable(missing);
        }
    }
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
