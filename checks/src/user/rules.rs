//! Declarative rules: YAML documents whose CEL `condition` is true when the rule is violated.
//!
//! ```yaml
//! code: U-001
//! name: remote-dr-pins-sans
//! severity: error
//! kinds: [DestinationRule]
//! condition: "object.spec.host.endsWith('.mesh-b.global') && !has(object.spec.trafficPolicy.tls.subjectAltNames)"
//! message: "DestinationRule {{namespace}}/{{name}} does not pin the server's SANs"
//! fix: "Set trafficPolicy.tls.subjectAltNames to the server's SPIFFE IDs."
//! ```
//!
//! The keys are a contract like the CLI. A rule with `kinds` is evaluated for every object of
//! those kinds in both meshes with `object` (the object as JSON, Secrets redacted) and `mesh`
//! (`"client"` or `"server"`); a rule with `route: true` for every route with `route` (the
//! route as in the JSON report) and `mesh` (`"client"`).

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde_json::Value;

use crate::engine::RouteReport;
use crate::finding::{Category, Evidence, Finding, Severity};
use crate::model::{KeptObject, Side, Snapshot};
use crate::yaml::{self, Budget, Position};

/// The keys a rule may have.
pub const KEYS: &[&str] = &[
    "code",
    "name",
    "severity",
    "kinds",
    "route",
    "condition",
    "message",
    "fix",
];

/// What a rule is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every object of these kinds, in both meshes.
    Kinds(Vec<String>),
    /// Every route.
    Route,
}

/// One parsed, compiled rule.
pub struct Rule {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub target: Target,
    pub condition: String,
    program: cel::Program,
    pub message: String,
    pub fix: Option<String>,
    /// `file:line` of the rule's document.
    pub file: String,
    pub line: u32,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {} {} ({}:{})",
            self.code, self.name, self.file, self.line
        )
    }
}

/// A rule that cannot be used, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Violated,
    Passed,
    /// The condition could not be evaluated (a missing field without `has()`, a non-boolean
    /// result).
    Error(String),
}

/// Parses every rule document of one file. `file` is how errors name it.
pub fn parse(file: &str, text: &str) -> (Vec<Rule>, Vec<RuleError>) {
    let decoded = yaml::decode(text, Budget::default());
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for doc in &decoded.documents {
        if doc.value.is_null() {
            continue;
        }
        let at = |field: &str| yaml::locate(text, doc.index, field).unwrap_or(doc.start);
        match rule_of(&doc.value, &at) {
            Ok(mut rule) => {
                rule.file = file.to_string();
                rule.line = doc.start.line;
                rules.push(rule);
            }
            Err(list) => errors.extend(list.into_iter().map(|(pos, message)| RuleError {
                file: file.to_string(),
                line: pos.line,
                column: pos.column,
                message,
            })),
        }
    }
    errors.sort_by_key(|e| (e.line, e.column));
    if let Some(e) = decoded.error {
        errors.push(RuleError {
            file: file.to_string(),
            line: e.position.line,
            column: e.position.column,
            message: format!("invalid YAML: {}", e.message),
        });
    }
    (rules, errors)
}

type Problems = Vec<(Position, String)>;

/// One document → a rule, or every problem it has (all of them, so one run fixes a file).
fn rule_of(doc: &Value, at: &dyn Fn(&str) -> Position) -> Result<Rule, Problems> {
    let mut problems: Problems = Vec::new();
    let Some(map) = doc.as_object() else {
        return Err(vec![(at(""), "a rule is a mapping of the keys code, name, severity, kinds or route, condition, message, fix".into())]);
    };
    for key in map.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        problems.push((
            at(key),
            format!("unknown field `{key}` (a rule has: {})", KEYS.join(", ")),
        ));
    }
    let text = |key: &str, problems: &mut Problems| -> String {
        match map.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(_) => {
                problems.push((at(key), format!("`{key}` must be a non-empty string")));
                String::new()
            }
            None => {
                problems.push((at(""), format!("missing `{key}`")));
                String::new()
            }
        }
    };
    let code = text("code", &mut problems);
    let name = text("name", &mut problems);
    let severity_text = text("severity", &mut problems);
    let condition = text("condition", &mut problems);
    let message = text("message", &mut problems);
    if !code.is_empty() && !rule_code_ok(&code) {
        problems.push((
            at("code"),
            format!("code `{code}` must be U-NNN (three digits)"),
        ));
    }
    if !name.is_empty() && !super::kebab_case(&name) {
        problems.push((at("name"), format!("name `{name}` must be kebab-case")));
    }
    let severity = severity_text.parse::<Severity>().unwrap_or_else(|e| {
        if !severity_text.is_empty() {
            problems.push((at("severity"), e));
        }
        Severity::Error
    });
    let fix = match map.get("fix") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push((at("fix"), "`fix` must be a string".into()));
            None
        }
    };
    let target = target_of(map, at, &mut problems);
    let allowed: &[&str] = match target {
        Some(Target::Route) => &["route", "mesh"],
        _ => &["object", "mesh"],
    };
    let program = compile(&condition, allowed, &at("condition"), &mut problems);
    check_placeholders(&message, &target, &at("message"), &mut problems);
    match (program, target) {
        (Some(program), Some(target)) if problems.is_empty() => Ok(Rule {
            code,
            name,
            severity,
            target,
            condition,
            program,
            message,
            fix,
            file: String::new(),
            line: 0,
        }),
        _ => Err(problems),
    }
}

fn rule_code_ok(code: &str) -> bool {
    code.strip_prefix("U-")
        .is_some_and(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// `kinds: [A, B]` or `route: true`, exactly one.
fn target_of(
    map: &serde_json::Map<String, Value>,
    at: &dyn Fn(&str) -> Position,
    problems: &mut Problems,
) -> Option<Target> {
    match (map.get("kinds"), map.get("route")) {
        (Some(_), Some(_)) => {
            problems.push((
                at("route"),
                "a rule has either `kinds` or `route: true`, not both".into(),
            ));
            None
        }
        (None, Some(Value::Bool(true))) => Some(Target::Route),
        (None, Some(_)) => {
            problems.push((
                at("route"),
                "`route` must be `true` (or use `kinds`)".into(),
            ));
            None
        }
        (Some(Value::Array(items)), None) => {
            let kinds: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            let valid = !kinds.is_empty()
                && kinds.len() == items.len()
                && kinds.iter().all(|k| {
                    k.starts_with(|c: char| c.is_ascii_uppercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric())
                });
            if valid {
                Some(Target::Kinds(kinds))
            } else {
                problems.push((
                    at("kinds"),
                    "`kinds` must be a non-empty list of object kinds, e.g. [DestinationRule]"
                        .into(),
                ));
                None
            }
        }
        (Some(_), None) => {
            problems.push((
                at("kinds"),
                "`kinds` must be a list, e.g. [DestinationRule]".into(),
            ));
            None
        }
        (None, None) => {
            problems.push((
                at(""),
                "missing `kinds` (object kinds) or `route: true`".into(),
            ));
            None
        }
    }
}

/// Compiles the condition and checks it only names the variables it will have.
fn compile(
    condition: &str,
    allowed: &[&str],
    at: &Position,
    problems: &mut Problems,
) -> Option<cel::Program> {
    if condition.is_empty() {
        return None;
    }
    let program = match cel::Program::compile(condition) {
        Ok(p) => p,
        Err(errors) => {
            let detail: Vec<String> = errors
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "{} (expression line {}, column {})",
                        e.msg,
                        e.pos.0,
                        e.pos.1 + 1
                    )
                })
                .collect();
            problems.push((
                *at,
                format!("condition is not valid CEL: {}", detail.join("; ")),
            ));
            return None;
        }
    };
    // Syntax errors point into what the user wrote; the program run is the expanded one.
    let program = match cel::Program::compile(&expand_has(condition)) {
        Ok(expanded) => expanded,
        Err(_) => program,
    };
    let bound = bound_variables(condition);
    let unknown: BTreeSet<String> = program
        .references()
        .variables()
        .into_iter()
        .filter(|v| !allowed.contains(v) && !bound.contains(*v))
        .map(str::to_string)
        .collect();
    if !unknown.is_empty() {
        problems.push((
            *at,
            format!(
                "condition uses unknown variable(s) {}; this rule sees {}",
                unknown
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                allowed
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ));
        return None;
    }
    Some(program)
}

/// `has(a.b.c)` → `(has(a.b) && has(a.b.c))`: in CEL, `has()` fails when a parent is
/// missing; in a rule, "the field is set" is what is meant, so every step is tested in order.
/// Only plain dotted paths are expanded.
pub fn expand_has(condition: &str) -> String {
    let mut out = String::with_capacity(condition.len());
    let mut rest = condition;
    while !rest.is_empty() {
        // String literals are copied as they are.
        if let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let end = literal_end(rest, quote);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let preceded_by_ident = out
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if let Some(after) = rest.strip_prefix("has(").filter(|_| !preceded_by_ident) {
            let path = after.split(')').next().unwrap_or("");
            let segments: Vec<&str> = path.trim().split('.').collect();
            let plain = segments.len() > 2
                && segments.iter().all(|s| {
                    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if plain && after.len() > path.len() {
                let tests: Vec<String> = (2..=segments.len())
                    .map(|n| format!("has({})", segments[..n].join(".")))
                    .collect();
                out.push('(');
                out.push_str(&tests.join(" && "));
                out.push(')');
                rest = &after[path.len() + 1..];
                continue;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The byte length of the string literal at the start of `text` (through its closing quote,
/// or to the end when it is not closed).
fn literal_end(text: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return i + c.len_utf8();
        }
    }
    text.len()
}

/// Names bound by comprehension macros (`all(x, …)`, `exists(x, …)`, `map(x, …)`, …), which
/// the parser reports as variables too.
fn bound_variables(condition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for macro_name in ["all(", "exists(", "exists_one(", "map(", "filter("] {
        for (i, _) in condition.match_indices(macro_name) {
            let rest = &condition[i + macro_name.len()..];
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rest.trim_start()[name.len()..]
                .trim_start()
                .starts_with(',')
                && !name.is_empty()
            {
                out.insert(name);
            }
        }
    }
    out
}

const OBJECT_PLACEHOLDERS: &[&str] = &["namespace", "name", "kind", "mesh"];
const ROUTE_PLACEHOLDERS: &[&str] = &["namespace", "name", "kind", "mesh", "route", "host", "port"];

fn check_placeholders(
    message: &str,
    target: &Option<Target>,
    at: &Position,
    problems: &mut Problems,
) {
    let known = match target {
        Some(Target::Route) => ROUTE_PLACEHOLDERS,
        _ => OBJECT_PLACEHOLDERS,
    };
    for name in placeholders(message) {
        if !known.contains(&name.as_str()) {
            problems.push((
                *at,
                format!(
                    "unknown placeholder `{{{{{name}}}}}` in message (known: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{{{k}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
}

fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

/// Fills `{{key}}` placeholders (spaces inside the braces allowed, as validation accepts).
pub fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        match values.iter().find(|(k, _)| *k == key) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Codes must be unique across every rule file.
pub fn duplicate_codes(rules: &[Rule]) -> Vec<RuleError> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some(first) = rules[..i].iter().find(|r| r.code == rule.code) {
            errors.push(RuleError {
                file: rule.file.clone(),
                line: rule.line,
                column: 1,
                message: format!(
                    "code {} is already used by {}:{}",
                    rule.code, first.file, first.line
                ),
            });
        }
    }
    errors
}

impl Rule {
    pub fn applies_to_kind(&self, kind: &str) -> bool {
        matches!(&self.target, Target::Kinds(kinds) if kinds.iter().any(|k| k == kind))
    }

    /// Evaluates the condition with `object` or `route` bound to `value`.
    pub fn evaluate(&self, value: &Value, mesh: Side) -> Outcome {
        self.evaluate_in(&cel::Context::default(), value, mesh)
    }

    /// [`Rule::evaluate`] in a child scope of `base`: building CEL's standard library once per
    /// run instead of once per object.
    pub fn evaluate_in(&self, base: &cel::Context, value: &Value, mesh: Side) -> Outcome {
        let variable = match self.target {
            Target::Route => "route",
            Target::Kinds(_) => "object",
        };
        let converted = match cel::to_value(value) {
            Ok(v) => v,
            Err(e) => return Outcome::Error(format!("cannot convert the {variable}: {e}")),
        };
        let mut context = base.new_inner_scope();
        context.add_variable_from_value(variable, converted);
        context.add_variable_from_value("mesh", mesh.as_str());
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(true)) => Outcome::Violated,
            Ok(cel::Value::Bool(false)) => Outcome::Passed,
            Ok(other) => Outcome::Error(format!("condition returned {other:?}, not a boolean")),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }

    fn finding(&self, mesh: Side, message: String) -> Finding {
        let mut f = Finding::from_parts(
            self.code.clone(),
            self.name.clone(),
            self.severity,
            Category::Rule,
            mesh,
            message,
        );
        if let Some(fix) = &self.fix {
            f = f.fix(fix.clone());
        }
        f
    }
}

fn object_values(o: &KeptObject, mesh: Side) -> Vec<(&'static str, String)> {
    vec![
        ("namespace", o.source.object.namespace.clone()),
        ("name", o.source.object.name.clone()),
        ("kind", o.source.object.kind.clone()),
        ("mesh", mesh.as_str().to_string()),
    ]
}

fn route_values(r: &RouteReport) -> Vec<(&'static str, String)> {
    vec![
        ("namespace", r.client_namespace.clone()),
        ("name", format!("{}:{}", r.host, r.port)),
        ("kind", "Route".into()),
        ("mesh", "client".into()),
        ("route", r.id.clone()),
        ("host", r.host.clone()),
        ("port", r.port.to_string()),
    ]
}

/// The client mesh's ServiceEntries and DestinationRules by host, read once: where a
/// route-rule finding points.
#[derive(Default)]
struct RouteObjects<'s> {
    by_host: HashMap<String, Vec<(&'s KeptObject, &'static str)>>,
}

impl<'s> RouteObjects<'s> {
    fn new(snapshot: &'s Snapshot) -> RouteObjects<'s> {
        let mut index = RouteObjects::default();
        for o in &snapshot.client.objects {
            let field = match o.source.object.kind.as_str() {
                "ServiceEntry" => "spec.hosts",
                "DestinationRule" => "spec.host",
                _ => continue,
            };
            let value = o.value();
            let spec = &value["spec"];
            let hosts = spec["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(std::iter::once(&spec["host"]))
                .filter_map(Value::as_str);
            for host in hosts {
                index
                    .by_host
                    .entry(host.to_string())
                    .or_default()
                    .push((o, field));
            }
        }
        index
    }

    /// One ServiceEntry and one DestinationRule for the route's host, its namespace first.
    fn of(&self, r: &RouteReport) -> Vec<(&'s KeptObject, &'static str)> {
        let mut candidates = self.by_host.get(&r.host).cloned().unwrap_or_default();
        candidates.sort_by_key(|(o, _)| o.source.object.namespace != r.client_namespace);
        let mut out: Vec<(&KeptObject, &'static str)> = Vec::new();
        for (o, field) in candidates {
            if !out
                .iter()
                .any(|(k, _)| k.source.object.kind == o.source.object.kind)
            {
                out.push((o, field));
            }
        }
        out
    }
}

/// Runs every rule: findings for violations, one E004 per rule that failed to evaluate.
pub fn run<'r>(
    rules: impl IntoIterator<Item = &'r Rule>,
    snapshot: &Snapshot,
    routes: &[RouteReport],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let base = cel::Context::default();
    let mut route_objects: Option<RouteObjects> = None;
    for rule in rules {
        let mut errors: Vec<String> = Vec::new();
        match &rule.target {
            Target::Kinds(_) => {
                for (mesh, m) in [
                    (Side::Client, &snapshot.client),
                    (Side::Server, &snapshot.server),
                ] {
                    for o in m
                        .objects
                        .iter()
                        .filter(|o| rule.applies_to_kind(&o.source.object.kind))
                    {
                        match rule.evaluate_in(&base, &o.value(), mesh) {
                            Outcome::Violated => out.push(
                                rule.finding(mesh, render(&rule.message, &object_values(o, mesh)))
                                    .evidence(Evidence::object(
                                        mesh,
                                        &o.source,
                                        None,
                                        format!("violates {} {}", rule.code, rule.name),
                                    )),
                            ),
                            Outcome::Passed => {}
                            Outcome::Error(e) => errors.push(format!(
                                "{} {}/{}: {e}",
                                o.source.object.kind,
                                o.source.object.namespace,
                                o.source.object.name
                            )),
                        }
                    }
                }
            }
            Target::Route => {
                let cited = route_objects.get_or_insert_with(|| RouteObjects::new(snapshot));
                for r in routes {
                    let value = serde_json::to_value(r).unwrap_or(Value::Null);
                    match rule.evaluate_in(&base, &value, Side::Client) {
                        Outcome::Violated => {
                            let mut f = rule
                                .finding(Side::Client, render(&rule.message, &route_values(r)))
                                .route(&r.id);
                            let cited = cited.of(r);
                            if cited.is_empty() {
                                f = f.evidence(Evidence::fact(
                                    Side::Client,
                                    format!("route {} violates {} {}", r.id, rule.code, rule.name),
                                ));
                            }
                            for (o, field) in cited {
                                f = f.evidence(Evidence::object(
                                    Side::Client,
                                    &o.source,
                                    Some(field),
                                    format!("defines route {}", r.id),
                                ));
                            }
                            out.push(f);
                        }
                        Outcome::Passed => {}
                        Outcome::Error(e) => errors.push(format!("route {}: {e}", r.id)),
                    }
                }
            }
        }
        if let Some(first) = errors.first() {
            out.push(super::failure(
                &format!("rule {} {} ({}:{})", rule.code, rule.name, rule.file, rule.line),
                format!(
                    "could not be evaluated on {} input(s), e.g. {first} (guard optional fields with has())",
                    errors.len()
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULE: &str = "code: U-001\nname: remote-dr-pins-sans\nseverity: error\nkinds: [DestinationRule]\n\
        condition: \"object.spec.host.endsWith('.mesh-b.global') && !has(object.spec.trafficPolicy.tls.subjectAltNames)\"\n\
        message: \"DestinationRule {{namespace}}/{{name}} does not pin SANs\"\nfix: Set them.\n";

    #[test]
    fn the_issue_example_compiles_and_evaluates() {
        let (rules, errors) = parse("r.yaml", RULE);
        assert!(errors.is_empty(), "{errors:?}");
        let rule = &rules[0];
        let violating = json!({"spec": {"host": "api.mesh-b.global", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}});
        let pinned = json!({"spec": {"host": "api.mesh-b.global", "trafficPolicy": {"tls": {"subjectAltNames": ["spiffe://x"]}}}});
        let elsewhere = json!({"spec": {"host": "api.local"}});
        assert_eq!(rule.evaluate(&violating, Side::Client), Outcome::Violated);
        assert_eq!(rule.evaluate(&pinned, Side::Client), Outcome::Passed);
        assert_eq!(rule.evaluate(&elsewhere, Side::Client), Outcome::Passed);
        let bare = json!({"spec": {"host": "api.mesh-b.global"}});
        assert_eq!(rule.evaluate(&bare, Side::Client), Outcome::Violated);
    }

    #[test]
    fn errors_name_the_line() {
        let text = "code: U-001\nname: x\nseverity: fatal\nkinds: [DestinationRule]\ncondition: \"object.spec.host ==\"\nmessage: m\ncolour: red\n";
        let (rules, errors) = parse("r.yaml", text);
        assert!(rules.is_empty());
        let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
        assert!(
            errors
                .iter()
                .any(|e| e.line == 5 && e.message.contains("not valid CEL")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.line == 3 && e.message.contains("severity")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.line == 7 && e.message.contains("unknown field `colour`")),
            "{lines:?}"
        );
    }

    #[test]
    fn unknown_variables_and_placeholders_are_errors() {
        let text = "code: U-002\nname: x\nseverity: info\nroute: true\ncondition: object.x == 1\nmessage: \"{{route}} {{colour}}\"\n";
        let (_, errors) = parse("r.yaml", text);
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("unknown variable(s) `object`")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.message.contains("{{colour}}")),
            "{errors:?}"
        );
        let comprehension = "code: U-003\nname: x\nseverity: info\nkinds: [Service]\ncondition: object.spec.ports.exists(p, p.port == 80)\nmessage: m\n";
        let (rules, errors) = parse("r.yaml", comprehension);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rules[0].evaluate(&json!({"spec": {"ports": [{"port": 80}]}}), Side::Server),
            Outcome::Violated
        );
    }

    #[test]
    fn has_tests_every_step_of_a_path() {
        assert_eq!(
            expand_has("!has(o.a.b) && has(o.a)"),
            "!(has(o.a) && has(o.a.b)) && has(o.a)"
        );
        assert_eq!(expand_has("xhas(o.a.b)"), "xhas(o.a.b)");
        assert_eq!(expand_has("has(o.a[0].b)"), "has(o.a[0].b)");
        assert_eq!(
            expand_has("x == 'has(a.b.c)' && has(a.b.c)"),
            "x == 'has(a.b.c)' && (has(a.b) && has(a.b.c))"
        );
        assert_eq!(
            expand_has("\"it's \\\" has(a.b.c)\""),
            "\"it's \\\" has(a.b.c)\""
        );
    }

    #[test]
    fn matches_is_available_for_naming_rules() {
        let text = "code: U-004\nname: naming\nseverity: warning\nkinds: [ServiceEntry]\ncondition: \"!object.spec.hosts.all(h, h.matches('^[a-z0-9-]+[.][a-z0-9-]+[.]mesh-[a-z]+[.]global$'))\"\nmessage: m\n";
        let (rules, errors) = parse("r.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let good = json!({"spec": {"hosts": ["api.payments.mesh-b.global"]}});
        let bad = json!({"spec": {"hosts": ["payments-api.example.com"]}});
        assert_eq!(rules[0].evaluate(&good, Side::Client), Outcome::Passed);
        assert_eq!(rules[0].evaluate(&bad, Side::Client), Outcome::Violated);
    }

    #[test]
    fn templates_fill_known_values() {
        assert_eq!(
            render(
                "{{kind}} {{ namespace }}/{{name }} {{other}}",
                &[
                    ("kind", "DR".into()),
                    ("namespace", "a".into()),
                    ("name", "b".into())
                ]
            ),
            "DR a/b {{other}}"
        );
    }
}
