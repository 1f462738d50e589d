//! User checks, the I/O half: finding plug-in executables and running them, reading rule
//! files. What they are handed and what their answers mean is in `checks::user`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use checks::engine::{Report, Selection};
use checks::finding::Finding;
use checks::model::Snapshot;
use checks::user::rules::{self, Rule, RuleError};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Executables named `istio-peer-check-<name>` are plug-ins.
pub const PLUGIN_PREFIX: &str = "istio-peer-check-";

/// Rules are read from here when no `--rules` is given and the directory exists.
pub const DEFAULT_RULES_DIR: &str = ".istio-peer/rules";

/// The most a plug-in may print.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Plug-ins run at once.
const CONCURRENCY: usize = 4;

/// Where user checks come from (`doctor` and `checks`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct UserCheckArgs {
    /// Also look for plug-in executables (`istio-peer-check-<name>`) in DIR (repeatable;
    /// searched before PATH).
    #[arg(long = "checks-dir", value_name = "DIR")]
    pub checks_dir: Vec<PathBuf>,
    /// Run no plug-in executables.
    #[arg(long)]
    pub no_plugins: bool,
    /// Seconds a plug-in may run before it is stopped.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub plugin_timeout: f64,
    /// Read declarative rules from DIR (repeatable; default `.istio-peer/rules` when present).
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
}

/// A plug-in executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    pub name: String,
    pub path: PathBuf,
}

/// The user checks of a run.
#[derive(Debug, Default)]
pub struct UserChecks {
    pub plugins: Vec<Plugin>,
    pub rules: Vec<Rule>,
    timeout: Duration,
}

impl UserChecks {
    /// Finds the plug-ins and reads the rules; a rule error fails before any analysis.
    pub fn load(args: &UserCheckArgs) -> Result<UserChecks, String> {
        if !(args.plugin_timeout.is_finite() && args.plugin_timeout > 0.0) {
            return Err("--plugin-timeout must be a positive number of seconds".into());
        }
        let plugins = if args.no_plugins {
            Vec::new()
        } else {
            discover(&args.checks_dir, std::env::var_os("PATH").as_deref())
        };
        let dirs: Vec<PathBuf> = if args.rules.is_empty() {
            Some(PathBuf::from(DEFAULT_RULES_DIR))
                .filter(|d| d.is_dir())
                .into_iter()
                .collect()
        } else {
            args.rules.clone()
        };
        let rules = load_rules(&dirs).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            format!("invalid rules:\n  {}", lines.join("\n  "))
        })?;
        Ok(UserChecks {
            plugins,
            rules,
            timeout: Duration::from_secs_f64(args.plugin_timeout.min(3600.0)),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty() && self.rules.is_empty()
    }

    /// Whether `selector` names one of these checks for `--check` / `--skip`: a plug-in by
    /// name or by one of its codes (`X-<name>-NNN`), a rule by code or name.
    pub fn selects(&self, selector: &str) -> bool {
        self.plugins.iter().any(|p| {
            p.name.eq_ignore_ascii_case(selector) || plugin_code_of(selector) == Some(&p.name)
        }) || self.names_rule(selector)
    }

    /// Whether `selector` is a rule's code or name (findings carry both, so overrides and
    /// waivers can use either).
    pub fn names_rule(&self, selector: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.code.eq_ignore_ascii_case(selector) || r.name.eq_ignore_ascii_case(selector))
    }

    /// Runs the selected plug-ins and rules against the built-in report's model.
    pub async fn run(
        &self,
        snapshot: &Snapshot,
        report: &Report,
        selection: &Selection,
    ) -> Vec<Finding> {
        let selected = self
            .rules
            .iter()
            .filter(|r| selection.runs(&[&r.code, &r.name, "rule"]));
        let mut findings = rules::run(selected, snapshot, &report.routes);
        let plugins: Vec<&Plugin> = self
            .plugins
            .iter()
            .filter(|p| plugin_selected(selection, &p.name))
            .collect();
        if plugins.is_empty() {
            return findings;
        }
        let input = Arc::new(checks::user::plugin_input(
            snapshot,
            report,
            env!("CARGO_PKG_VERSION"),
        ));
        let timeout = self.timeout;
        let answers: Vec<(&Plugin, Result<Vec<u8>, String>)> = futures::stream::iter(plugins)
            .map(|p| {
                let input = input.clone();
                async move { (p, run_plugin(p, input, timeout).await) }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for (plugin, answer) in answers {
            let subject = format!("plug-in `{}` ({})", plugin.name, plugin.path.display());
            match answer.and_then(|out| checks::user::plugin_findings(&plugin.name, &out, snapshot))
            {
                // `--check X-name-001` runs the plug-in and keeps that code only.
                Ok(list) => findings.extend(
                    list.into_iter()
                        .filter(|f| selection.runs(&[&f.code, &plugin.name, "plug-in"])),
                ),
                Err(problem) => findings.push(checks::user::failure(&subject, problem)),
            }
        }
        findings
    }
}

/// `X-host-naming-001` → `host-naming`.
fn plugin_code_of(code: &str) -> Option<&str> {
    let rest = code.strip_prefix("X-")?;
    let (name, digits) = rest.rsplit_once('-')?;
    (digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(name)
}

/// A plug-in runs unless skipped by name or category; with `--check`, when named, when its
/// category is, or when one of its codes is.
fn plugin_selected(selection: &Selection, name: &str) -> bool {
    let labels = [name, "plug-in"];
    let named = |list: &[String]| {
        list.iter().any(|s| {
            labels.iter().any(|l| l.eq_ignore_ascii_case(s)) || plugin_code_of(s) == Some(name)
        })
    };
    (selection.only.is_empty() || named(&selection.only))
        && !selection
            .skip
            .iter()
            .any(|s| labels.iter().any(|l| l.eq_ignore_ascii_case(s)))
}

/// Plug-ins in `dirs`, then on `path` (the first of a name wins, as a shell would pick it).
pub fn discover(dirs: &[PathBuf], path: Option<&std::ffi::OsStr>) -> Vec<Plugin> {
    let mut search: Vec<PathBuf> = dirs.to_vec();
    if let Some(path) = path {
        search.extend(std::env::split_paths(path));
    }
    let mut found: Vec<Plugin> = Vec::new();
    for dir in search {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_str()?.to_string();
                let name = file.strip_prefix(PLUGIN_PREFIX)?.to_string();
                Some((name, e.path()))
            })
            .filter(|(name, path)| checks::user::kebab_case(name) && is_executable(path))
            .collect();
        names.sort();
        for (name, path) in names {
            if !found.iter().any(|p| p.name == name) {
                found.push(Plugin { name, path });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs one plug-in: the model on stdin, its stdout back. It runs in its own process group,
/// killed whole (children included) when it times out, prints too much, or leaves children
/// holding its stdout after it exited.
async fn run_plugin(
    plugin: &Plugin,
    input: Arc<Vec<u8>>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut command = tokio::process::Command::new(&plugin.path);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env(
            "ISTIO_PEER_SCHEMA_VERSION",
            checks::user::SCHEMA_VERSION.to_string(),
        )
        .kill_on_drop(true)
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not be started: {e}"))?;
    let group = ProcessGroup(child.id());
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or("has no stdout")?;
    let stderr = child.stderr.take().ok_or("has no stderr")?;
    // Write while reading: a plug-in that prints before it has read everything must not
    // deadlock on full pipes. One that does not read stdin at all is fine too.
    let writer = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input).await;
        }
    });
    let mut stdout_task = tokio::spawn(read_capped(stdout));
    let stderr_task = tokio::spawn(read_tail(stderr));
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut answer: Option<Result<Vec<u8>, String>> = None;
    let exited = loop {
        tokio::select! {
            status = child.wait() => break status.map_err(|e| format!("could not be waited for: {e}")),
            read = &mut stdout_task, if answer.is_none() => {
                let read = read.unwrap_or_else(|e| Err(format!("could not be read: {e}")));
                if let Err(problem) = &read {
                    group.kill();
                    writer.abort();
                    return Err(problem.clone());
                }
                answer = Some(read);
            }
            () = &mut deadline => {
                group.kill();
                writer.abort();
                return Err(format!(
                    "timed out after {} s (--plugin-timeout) and was stopped",
                    timeout.as_secs_f64()
                ));
            }
        }
    };
    writer.abort();
    let status = exited?;
    // Children that inherited stdout may keep it open after the plug-in exited: give them a
    // moment, then stop them.
    let answer = match answer {
        Some(answer) => answer,
        None => match tokio::time::timeout(Duration::from_millis(500), &mut stdout_task).await {
            Ok(read) => read.unwrap_or_else(|e| Err(format!("could not be read: {e}"))),
            Err(_) => {
                group.kill();
                stdout_task
                    .await
                    .unwrap_or_else(|e| Err(format!("could not be read: {e}")))
            }
        },
    };
    group.kill();
    // Too much output explains the exit too: closing the pipe on it kills the writer
    // (SIGPIPE), and that exit can be seen first.
    let answer = answer?;
    let tail = tokio::time::timeout(Duration::from_millis(500), stderr_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    if !status.success() {
        let text = String::from_utf8_lossy(&tail);
        let note = stderr_note(text.trim());
        return Err(match status.code() {
            Some(code) => format!("exited with status {code}{note}"),
            None => format!("was killed by a signal{note}"),
        });
    }
    Ok(answer)
}

/// A plug-in's process group (it leads it), killed as a whole.
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn kill(&self) {
        let Some(pid) = self
            .0
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        // The group may be gone already; nothing to do then.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn stderr_note(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (stderr: {tail})")
    }
}

/// Reads stdout to the end; more than [`MAX_OUTPUT`] is an error.
async fn read_capped(mut stream: impl AsyncReadExt + Unpin) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("could not be read: {e}"))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > MAX_OUTPUT {
            return Err(format!("printed more than {} MiB", MAX_OUTPUT >> 20));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Reads stderr to the end, keeping the last 400 bytes (a plug-in may print a lot there).
async fn read_tail(mut stream: impl AsyncReadExt + Unpin) -> Vec<u8> {
    const TAIL: usize = 400;
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > TAIL {
            tail.drain(..tail.len() - TAIL);
        }
    }
    tail
}

/// Every rule in the YAML files directly inside `dirs` (test cases live in `DIR/tests/`).
pub fn load_rules(dirs: &[PathBuf]) -> Result<Vec<Rule>, Vec<RuleError>> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let files = match yaml_files(dir) {
            Ok(f) => f,
            Err(message) => {
                errors.push(RuleError {
                    file: dir.display().to_string(),
                    line: 0,
                    column: 0,
                    message,
                });
                continue;
            }
        };
        for file in files {
            let label = file.display().to_string();
            match std::fs::read(&file).map(String::from_utf8) {
                Ok(Ok(text)) => {
                    let (mut found, mut problems) = rules::parse(&label, &text);
                    rules.append(&mut found);
                    errors.append(&mut problems);
                }
                Ok(Err(_)) => errors.push(RuleError {
                    file: label,
                    line: 1,
                    column: 1,
                    message: "not UTF-8 text".into(),
                }),
                Err(e) => errors.push(RuleError {
                    file: label,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
    }
    errors.extend(rules::duplicate_codes(&rules));
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// `*.yaml` / `*.yml` directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read rules directory: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}
