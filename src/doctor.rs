//! `istio-peer doctor`: load both meshes, run the checks, probe, render, decide the exit code.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use checks::analysis::MeshTrust;
use checks::analysis::tls;
use checks::engine::{self, FailOn, Options, Report, RouteReport, Selection};
use checks::model::{Mesh, MeshBuilder, ProbeObservation, Side, Snapshot};
use checks::policy::{Override, OverrideAction};
use checks::time::Timestamp;
use futures::StreamExt;

use crate::cli::{DoctorArgs, EXIT_USAGE, Format, OutputSpec, ProbeVia};
use crate::config;
use crate::live::{self, Collected, LiveTarget};
use crate::load::{SourceTexts, load_paths};
use crate::probe::{self, Identity, PortForward, ProbeSpec, SigningCa};
use crate::render;
use crate::user_checks::UserChecks;

/// Routes probed at once.
const PROBE_CONCURRENCY: usize = 32;

/// Runs `doctor` and returns the exit code (the same whatever the formats).
pub fn run(args: &DoctorArgs, out: &mut impl Write) -> u8 {
    let outputs = match outputs(args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("istio-peer: {message}");
            return EXIT_USAGE;
        }
    };
    let report = match diagnose(args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("istio-peer: {message}");
            return EXIT_USAGE;
        }
    };
    for spec in &outputs {
        let text = render_as(&report, spec.format);
        let written = match &spec.file {
            Some(path) => std::fs::write(path, format!("{text}\n"))
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
            None => writeln!(out, "{text}").map_err(|e| e.to_string()),
        };
        if let Err(message) = written {
            eprintln!("istio-peer: {message}");
            return EXIT_USAGE;
        }
        if spec.format == Format::Github {
            append_step_summary(&report);
        }
    }
    report.verdict.exit_code()
}

fn render_as(report: &Report, format: Format) -> String {
    match format {
        Format::Table => render::table(report, render::use_color()),
        Format::Json => render::json(report),
        Format::Sarif => render::sarif::render(report),
        Format::Junit => render::junit::render(report),
        Format::Github => render::github::render(report),
        Format::Markdown => render::markdown::render(report),
    }
}

/// In GitHub Actions, the Markdown report also goes to the job summary.
fn append_step_summary(report: &Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let text = render::markdown::render(report);
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
}

/// `-o` specs with `--output-file` applied; at most one format on stdout.
fn outputs(args: &DoctorArgs) -> Result<Vec<OutputSpec>, String> {
    let mut specs = args.output.clone();
    if specs.is_empty() {
        specs.push(OutputSpec {
            format: Format::Table,
            file: None,
        });
    }
    if let Some(file) = &args.output_file {
        // `-o junit --output-file junit.xml`: the last format without a file of its own.
        match specs.iter_mut().rev().find(|s| s.file.is_none()) {
            Some(spec) => spec.file = Some(file.clone()),
            None => return Err("--output-file: every -o already names its file".into()),
        }
    }
    if specs.iter().filter(|s| s.file.is_none()).count() > 1 {
        return Err("more than one -o format writes to stdout; give the others a file (-o sarif=results.sarif)".into());
    }
    Ok(specs)
}

/// Whether this run probes: on for live inputs, off offline, unless told.
fn probing(args: &DoctorArgs) -> bool {
    if args.probe.no_probe {
        return false;
    }
    args.probe.probe || args.client_context.is_some() || args.server_context.is_some()
}

/// Loads the inputs (files and live clusters), runs the engine, probes the routes when asked
/// and runs the engine again with what the probes saw; field positions in evidence are
/// resolved.
pub fn diagnose(args: &DoctorArgs) -> Result<Report, String> {
    // A bad rule, config file or flag is a usage error before anything is read.
    let user = UserChecks::load(&args.user)?;
    let options = policy_options(args, &user)?;
    let probing = probing(args);
    let identity = match (&args.probe.probe_cert, &args.probe.probe_key) {
        (Some(cert), Some(key)) => Some(probe::identity_from_files(cert, key)?),
        (None, None) => None,
        _ => return Err("--probe-cert and --probe-key go together".into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut texts = SourceTexts::default();
    texts.capture_signing = probing && identity.is_none();
    let mut clock = PhaseClock::new(args.timings);
    let mut live = runtime.block_on(collect_live(args, texts.capture_signing));
    clock.lap("collect");
    let mut client_signing: Vec<SigningCa> = Vec::new();
    let keep_objects = !user.is_empty();
    let client = load_mesh(
        MeshInputs {
            paths: &args.client,
            context: args.client_context.as_deref(),
            live: live.remove(&Side::Client),
            name: args.client_name.as_deref(),
            keep_objects,
        },
        &mut texts,
        &mut client_signing,
    )?;
    // Only the client mesh's CA may sign probe identities.
    client_signing.append(&mut texts.signing);
    let mut ignored = Vec::new();
    let server = load_mesh(
        MeshInputs {
            paths: &args.server,
            context: args.server_context.as_deref(),
            live: live.remove(&Side::Server),
            name: args.server_name.as_deref(),
            keep_objects,
        },
        &mut texts,
        &mut ignored,
    )?;
    texts.signing.clear();
    clock.lap("load");
    let mut snapshot = Snapshot {
        at: args.at.unwrap_or_else(crate::now),
        expiry_warning_days: args.expiry_warning,
        client,
        server,
        hosts: args.hosts.clone(),
        probes: Vec::new(),
        proxies: Vec::new(),
    };
    let mut report = engine::run(&snapshot, &options);
    clock.lap("analysis");
    if probing {
        let mut specs = probe_specs(args, &snapshot, &report, identity, &client_signing);
        if args.probe.probe_via == ProbeVia::PortForward {
            runtime.block_on(route_through_port_forwards(
                args,
                &snapshot.server,
                &report,
                &mut specs,
            ))?;
        }
        snapshot.probes = runtime.block_on(run_probes(specs));
        clock.lap("probe");
    }
    if args.inspect.inspect_proxies {
        runtime.block_on(inspect_proxies(args, &mut snapshot))?;
        clock.lap("inspect");
    }
    if probing || args.inspect.inspect_proxies {
        report = engine::run(&snapshot, &options);
    }
    if !user.is_empty() {
        // User checks see the built-in report (routes, findings) and join it.
        let findings = runtime.block_on(user.run(&snapshot, &report, &options.selection));
        report = engine::run_with(&snapshot, &options, findings);
        clock.lap("user-checks");
    }
    render::resolve_field_positions(&mut report, &texts);
    clock.lap("locate");
    clock.report();
    Ok(report)
}

/// Phase durations for `--timings` (used by the benchmarks).
struct PhaseClock {
    enabled: bool,
    last: std::time::Instant,
    laps: Vec<(&'static str, u128)>,
}

impl PhaseClock {
    fn new(enabled: bool) -> PhaseClock {
        PhaseClock {
            enabled,
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.laps
            .push((phase, now.duration_since(self.last).as_millis()));
        self.last = now;
    }

    fn report(&self) {
        if self.enabled {
            let laps: Vec<String> = self
                .laps
                .iter()
                .map(|(p, ms)| format!("{p}={ms}ms"))
                .collect();
            eprintln!("timings: {}", laps.join(" "));
        }
    }
}

/// The fail threshold and the policy: config file, then command-line flags (which win).
fn policy_options(args: &DoctorArgs, user: &UserChecks) -> Result<Options, String> {
    // Overrides may name user codes before they are reported; --check/--skip must select
    // something that exists.
    let known =
        |selector: &str| checks::policy::known_selector(selector) || user.names_rule(selector);
    let selectable =
        |selector: &str| checks::policy::known_builtin_selector(selector) || user.selects(selector);
    let config = config::load(args.config.as_deref(), &known)?;
    let mut overrides = Vec::new();
    for (list, action) in [
        (&args.deny, OverrideAction::Deny),
        (&args.warn, OverrideAction::Warn),
        (&args.allow, OverrideAction::Allow),
    ] {
        for selector in list {
            if !known(selector) {
                return Err(format!(
                    "`{selector}` is not a check code, check name or category"
                ));
            }
            overrides.push(Override {
                selector: selector.clone(),
                action,
            });
        }
    }
    let fail_on = match (args.fail_on, config.fail_on.as_deref()) {
        (Some(f), _) => f.into(),
        (None, Some("warning")) => FailOn::Warning,
        (None, Some("never")) => FailOn::Never,
        _ => FailOn::Error,
    };
    for selector in args.check.iter().chain(&args.skip) {
        if !selectable(selector) {
            return Err(format!(
                "--check/--skip `{selector}`: not a check code, name or category, a plug-in or a rule"
            ));
        }
    }
    Ok(Options {
        fail_on,
        policy: config::policy(&config, overrides, args.baseline.as_deref())?,
        selection: Selection {
            only: args.check.clone(),
            skip: args.skip.clone(),
        },
    })
}

/// One probe per route, as the client sidecar would connect.
fn probe_specs(
    args: &DoctorArgs,
    snapshot: &Snapshot,
    report: &Report,
    identity: Option<Identity>,
    signing: &[SigningCa],
) -> Vec<ProbeSpec> {
    let roots = MeshTrust::derive(&snapshot.client).trust_set();
    let window = tls::client(&snapshot.client);
    // A live handshake happens now, whatever instant the configuration is evaluated at.
    let now = crate::now();
    // One minted identity per client workload identity, however many routes it has.
    let mut minted: HashMap<String, Option<Identity>> = HashMap::new();
    report
        .routes
        .iter()
        .filter_map(|route| {
            let target = args
                .probe
                .probe_address
                .clone()
                .or_else(|| route.address.clone())?;
            let identity = identity.clone().or_else(|| {
                let key = route.client_identities.first().cloned().unwrap_or_default();
                minted
                    .entry(key)
                    .or_insert_with(|| {
                        minted_identity(args, &snapshot.client, route, report, signing, now)
                    })
                    .clone()
            });
            Some(ProbeSpec {
                route: Some(route.id.clone()),
                target,
                sni: route.sni.clone(),
                alpn: route.alpn.clone(),
                roots: roots.clone(),
                expected_sans: route.expected_sans.clone(),
                identity,
                versions: (window.min, window.max),
                stage_timeout: Duration::from_secs(args.probe.probe_timeout.max(1)),
                at: now,
                negative: true,
                via: None,
            })
        })
        .collect()
}

/// A certificate for the route's client workload (or `--probe-identity NS/SA`), minted from
/// the CA the client mesh signs with.
fn minted_identity(
    args: &DoctorArgs,
    client: &Mesh,
    route: &RouteReport,
    report: &Report,
    signing: &[SigningCa],
    at: Timestamp,
) -> Option<Identity> {
    let spiffe_id = match &args.probe.probe_identity {
        Some(ns_sa) => {
            let (ns, sa) = ns_sa.split_once('/')?;
            checks::spiffe::SpiffeId::new(&client.config.trust_domain, ns, sa).uri()
        }
        None => route.client_identities.first()?.clone(),
    };
    let wanted = if report.client.ca_mode == "plug_in" {
        "cacerts"
    } else {
        "istio-ca-secret"
    };
    let ca = signing
        .iter()
        .find(|s| s.secret == wanted)
        .or(signing.first())?;
    match ca.mint(&spiffe_id, at) {
        Ok(identity) => Some(identity),
        Err(e) => {
            eprintln!(
                "istio-peer: cannot mint a probe identity for {spiffe_id} from the client mesh's {}: {e}",
                ca.secret
            );
            None
        }
    }
}

/// Points every probe at a gateway pod of the server cluster, through the API server.
async fn route_through_port_forwards(
    args: &DoctorArgs,
    server: &Mesh,
    report: &Report,
    specs: &mut [ProbeSpec],
) -> Result<(), String> {
    use k8s_openapi::api::core::v1::Pod;
    let context = args
        .server_context
        .clone()
        .ok_or("--probe-via port-forward needs --server-context")?;
    let target = LiveTarget {
        context,
        kubeconfig: args.live.kubeconfig.clone(),
    };
    let options = args.live.options(false);
    let client = live::client(&target, &options).await?;
    for spec in specs.iter_mut() {
        let Some(route) = report
            .routes
            .iter()
            .find(|r| Some(&r.id) == spec.route.as_ref())
        else {
            continue;
        };
        let (Some(service), Some(port)) = (&route.gateway_service, route.gateway_port) else {
            continue;
        };
        let Some((ns, name)) = service.split_once('/') else {
            continue;
        };
        let Some(svc) = server
            .services
            .iter()
            .find(|s| s.namespace() == ns && s.name() == name)
        else {
            continue;
        };
        let target_port = svc
            .spec
            .spec
            .ports
            .iter()
            .find(|p| p.port == port)
            .and_then(|p| match &p.target_port {
                Some(checks::model::IntOrString::Int(n)) => Some(*n),
                Some(checks::model::IntOrString::Str(_)) => None,
                None => Some(p.port),
            })
            .unwrap_or(port);
        let selector: Vec<String> = svc
            .spec
            .spec
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), ns);
        let params = kube::api::ListParams::default().labels(&selector.join(","));
        let listed = pods
            .list(&params)
            .await
            .map_err(|e| format!("cannot list gateway pods of {service}: {e}"))?;
        let Some(pod) = listed
            .items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .next()
        else {
            continue;
        };
        spec.target = format!("{ns}/{pod}:{target_port} (port-forward)");
        spec.via = Some(PortForward {
            client: client.clone(),
            namespace: ns.to_string(),
            pod,
            port: u16::try_from(target_port).unwrap_or(0),
        });
    }
    Ok(())
}

/// Reads the routes' proxies in every mesh given as a live context; what cannot be read
/// becomes E001 in that mesh.
async fn inspect_proxies(args: &DoctorArgs, snapshot: &mut Snapshot) -> Result<(), String> {
    use crate::inspect::{self, Cluster, InspectOptions};
    if args.client_context.is_none() && args.server_context.is_none() {
        return Err("--inspect-proxies reads running proxies: it needs --client-context and/or --server-context".into());
    }
    if !(args.inspect.inspect_interval.is_finite() && args.inspect.inspect_interval >= 0.0) {
        return Err("--inspect-interval must be a number of seconds".into());
    }
    let live_options = args.live.options(false);
    let mut clusters = HashMap::new();
    for (side, context) in [
        (Side::Client, &args.client_context),
        (Side::Server, &args.server_context),
    ] {
        let Some(context) = context else { continue };
        let target = LiveTarget {
            context: context.clone(),
            kubeconfig: args.live.kubeconfig.clone(),
        };
        // Collection already reported an unreachable cluster (E001); nothing to add.
        if let Ok(client) = live::client(&target, &live_options).await {
            clusters.insert(
                side,
                Cluster {
                    context: context.clone(),
                    client,
                },
            );
        }
    }
    let options = InspectOptions {
        limit: usize::from(args.inspect.inspect_limit),
        interval: Duration::from_secs_f64(args.inspect.inspect_interval.min(600.0)),
        timeout: Duration::from_secs(args.probe.probe_timeout.max(1)),
    };
    let inspection = inspect::inspect(inspect::plan(snapshot), &clusters, &options).await;
    snapshot.proxies = inspection.proxies;
    for (side, missing) in inspection.unavailable {
        match side {
            Side::Server => snapshot.server.unavailable.push(missing),
            _ => snapshot.client.unavailable.push(missing),
        }
    }
    Ok(())
}

/// Probes every route; client-auth enforcement (the negative probes) is a property of the
/// address and SNI, so it is tested once per (address, SNI) and shared by its routes.
async fn run_probes(specs: Vec<ProbeSpec>) -> Vec<ProbeObservation> {
    let main: Vec<ProbeSpec> = specs
        .iter()
        .cloned()
        .map(|mut s| {
            s.negative = false;
            s
        })
        .collect();
    let mut observations: Vec<ProbeObservation> = futures::stream::iter(main)
        .map(|spec| async move { probe::probe(&spec).await })
        .buffered(PROBE_CONCURRENCY)
        .collect()
        .await;
    let mut firsts: Vec<(String, Option<String>, usize)> = Vec::new();
    for (i, (spec, observation)) in specs.iter().zip(&observations).enumerate() {
        let seen = firsts
            .iter()
            .any(|(t, sni, _)| *t == spec.target && *sni == spec.sni);
        if spec.negative && probe::reached_tls(observation) && !seen {
            firsts.push((spec.target.clone(), spec.sni.clone(), i));
        }
    }
    let negatives: Vec<(String, Option<String>, Vec<checks::model::NegativeProbe>)> =
        futures::stream::iter(firsts)
            .map(|(target, sni, i)| {
                let spec = &specs[i];
                async move { (target, sni, probe::negative_probes(spec).await) }
            })
            .buffered(PROBE_CONCURRENCY)
            .collect()
            .await;
    for (spec, observation) in specs.iter().zip(observations.iter_mut()) {
        if let Some((_, _, n)) = negatives
            .iter()
            .find(|(t, sni, _)| *t == spec.target && *sni == spec.sni)
            && probe::reached_tls(observation)
        {
            observation.negative = n.clone();
        }
    }
    observations
}

/// Reads both clusters concurrently, when contexts are given.
async fn collect_live(args: &DoctorArgs, capture_signing: bool) -> HashMap<Side, Collected> {
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
        return HashMap::new();
    }
    let options = args.live.options(capture_signing);
    let sides: Vec<Side> = targets.iter().map(|(s, _)| *s).collect();
    let collected =
        live::collect_many(targets.into_iter().map(|(_, t)| t).collect(), options).await;
    sides.into_iter().zip(collected).collect()
}

/// Where one mesh comes from.
struct MeshInputs<'a> {
    paths: &'a [PathBuf],
    context: Option<&'a str>,
    live: Option<Collected>,
    name: Option<&'a str>,
    /// Keep object bodies for user checks.
    keep_objects: bool,
}

fn load_mesh(
    inputs: MeshInputs,
    texts: &mut SourceTexts,
    signing: &mut Vec<SigningCa>,
) -> Result<Mesh, String> {
    let name = inputs
        .name
        .map(str::to_string)
        .or_else(|| inputs.context.map(str::to_string))
        .unwrap_or_else(|| default_name(inputs.paths));
    let mut builder = MeshBuilder::new(name).keep_objects(inputs.keep_objects);
    load_paths(inputs.paths, &mut builder, texts).map_err(|e| e.to_string())?;
    if let Some(collected) = inputs.live {
        for object in collected.objects {
            builder.add(object);
        }
        for missing in collected.unavailable {
            builder.unavailable(missing);
        }
        signing.extend(collected.signing);
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
