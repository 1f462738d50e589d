//! YAML (and JSON, which is YAML) text to JSON values, with positions and budgets.
//!
//! Kubernetes manifests are YAML 1.2 documents; the model works on `serde_json::Value`
//! because every Kubernetes object is JSON-shaped. The decoder is event-based
//! (saphyr-parser) so that it can
//! - report the line and column of every document and of any field on demand,
//! - stop a document cleanly at the first syntax error while keeping the documents before it,
//! - bound the work an adversarial file can cause: alias expansion ("billion laughs"),
//!   nesting depth and total node count all have named limits.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Limits that keep hostile input from exhausting memory or stack.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Deepest nesting of mappings and sequences accepted.
    pub max_depth: usize,
    /// Most nodes (scalars, mappings, sequences) one document may expand to, aliases included.
    pub max_nodes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_depth: 128,
            max_nodes: 1_000_000,
        }
    }
}

/// A position in a text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    fn of(span: &Span) -> Position {
        Position {
            line: span.start.line() as u32,
            column: span.start.col() as u32 + 1,
        }
    }
}

/// One decoded document: its value, where it starts, and the character range it covers.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based index of the document in its file.
    pub index: usize,
    pub value: Value,
    pub start: Position,
}

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// 0-based index of the document that failed.
    pub document: usize,
    pub position: Position,
    pub message: String,
}

/// Everything decoded from one text: the good documents and, if any, the error that ended decoding.
#[derive(Debug, Default)]
pub struct Decoded {
    pub documents: Vec<Document>,
    pub error: Option<DecodeError>,
}

/// Decodes every document of `text`. Decoding stops at the first error: YAML's grammar gives
/// no reliable way to resynchronise after one, so the documents before it are kept and the
/// error names where it happened.
pub fn decode(text: &str, budget: Budget) -> Decoded {
    let mut builder = Builder::new(budget);
    let mut decoded = Decoded::default();
    for item in Parser::new_from_str(text) {
        match item {
            Err(e) => {
                decoded.error = Some(DecodeError {
                    document: decoded.documents.len(),
                    position: Position {
                        line: e.marker().line() as u32,
                        column: e.marker().col() as u32 + 1,
                    },
                    message: e.info().to_string(),
                });
                break;
            }
            Ok((event, span)) => match builder.push(event, span) {
                Ok(Some((value, start))) => {
                    let index = decoded.documents.len();
                    decoded.documents.push(Document {
                        index,
                        value,
                        start,
                    });
                }
                Ok(None) => {}
                Err(message) => {
                    decoded.error = Some(DecodeError {
                        document: decoded.documents.len(),
                        position: Position::of(&span),
                        message,
                    });
                    break;
                }
            },
        }
    }
    decoded
}

/// Finds the position of a field inside one document, e.g. `spec.trafficPolicy.tls.sni`,
/// `spec.servers[0].hosts[1]` or `data.ca-cert.pem` (keys may contain dots: paths are
/// compared as rendered strings, not split). Returns the position of the key for mapping
/// entries, of the item for sequence entries; `None` when the path does not exist.
///
/// This re-reads the document on demand so that the model need not store a position for
/// every node of every object: only findings ask for positions, and there are few of those.
pub fn locate(text: &str, document: usize, path: &str) -> Option<Position> {
    let mut doc_index: Option<usize> = None;
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        if let Event::DocumentStart(_) = event {
            doc_index = Some(doc_index.map_or(0, |i| i + 1));
            stack.clear();
            continue;
        }
        match doc_index {
            Some(i) if i == document => {}
            Some(i) if i > document => return None,
            _ => continue,
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let here = next_value(&mut stack, &span);
                if let Some((p, pos)) = &here
                    && p == path
                {
                    return Some(*pos);
                }
                let is_map = matches!(event, Event::MappingStart(..));
                stack.push(Frame::new(is_map, here.map(|(p, _)| p)));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Scalar(value, ..) => {
                if let Some(top) = stack.last_mut()
                    && top.is_map
                    && top.key.is_none()
                {
                    top.key = Some((value.to_string(), Position::of(&span)));
                    continue;
                }
                if let Some((p, pos)) = next_value(&mut stack, &span)
                    && p == path
                {
                    return Some(pos);
                }
            }
            Event::Alias(_) => {
                next_value(&mut stack, &span);
            }
            _ => {}
        }
    }
    None
}

struct Frame {
    is_map: bool,
    /// The key read and waiting for its value, with the key's position.
    key: Option<(String, Position)>,
    next_index: usize,
    /// The rendered path of this collection (empty for the document root).
    path: String,
}

impl Frame {
    fn new(is_map: bool, path: Option<String>) -> Frame {
        Frame {
            is_map,
            key: None,
            next_index: 0,
            path: path.unwrap_or_default(),
        }
    }
}

/// Consumes the slot of the value that starts at `span`: returns its rendered path and the
/// position to report (the key's for mapping values, the item's for sequence items).
fn next_value(stack: &mut [Frame], span: &Span) -> Option<(String, Position)> {
    let top = stack.last_mut()?;
    if top.is_map {
        let (key, pos) = top.key.take()?;
        let path = if top.path.is_empty() {
            key
        } else {
            format!("{}.{key}", top.path)
        };
        Some((path, pos))
    } else {
        let i = top.next_index;
        top.next_index += 1;
        Some((format!("{}[{i}]", top.path), Position::of(span)))
    }
}

/// Builds values from parser events, with anchors, a depth limit and a node budget.
struct Builder {
    budget: Budget,
    stack: Vec<Partial>,
    anchors: Vec<(usize, Value)>,
    nodes: usize,
    doc_start: Position,
    in_document: bool,
}

enum Partial {
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
}

impl Builder {
    fn new(budget: Budget) -> Builder {
        Builder {
            budget,
            stack: Vec::new(),
            anchors: Vec::new(),
            nodes: 0,
            doc_start: Position { line: 1, column: 1 },
            in_document: false,
        }
    }

    /// Feeds one event; returns a finished document when one ends.
    fn push(&mut self, event: Event, span: Span) -> Result<Option<(Value, Position)>, String> {
        match event {
            Event::DocumentStart(_) => {
                self.stack.clear();
                self.anchors.clear();
                self.nodes = 0;
                self.in_document = true;
                self.doc_start = Position::of(&span);
                Ok(None)
            }
            Event::DocumentEnd => {
                self.in_document = false;
                Ok(None)
            }
            Event::MappingStart(anchor, _) => {
                self.count(1)?;
                if self.stack.len() >= self.budget.max_depth {
                    return Err(format!(
                        "nesting deeper than the limit of {} levels",
                        self.budget.max_depth
                    ));
                }
                self.stack.push(Partial::Map {
                    map: Map::new(),
                    key: None,
                    anchor,
                });
                Ok(None)
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1)?;
                if self.stack.len() >= self.budget.max_depth {
                    return Err(format!(
                        "nesting deeper than the limit of {} levels",
                        self.budget.max_depth
                    ));
                }
                self.stack.push(Partial::Seq {
                    items: Vec::new(),
                    anchor,
                });
                Ok(None)
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Partial::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    Some(Partial::Seq { items, anchor }) => (Value::Array(items), anchor),
                    None => return Err("unbalanced collection end".into()),
                };
                self.finish(value, anchor)
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1)?;
                let is_key = matches!(self.stack.last(), Some(Partial::Map { key: None, .. }));
                let value = if is_key {
                    Value::String(text.into_owned())
                } else {
                    scalar(&text, style, tag.as_deref().map(|t| t.suffix.as_str()))
                };
                self.finish(value, anchor)
            }
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| "alias to an unknown anchor".to_string())?;
                self.count(node_count(&value))?;
                self.finish(value, 0)
            }
            _ => Ok(None),
        }
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.budget.max_nodes {
            Err(format!(
                "document expands to more than the limit of {} nodes (alias bomb?)",
                self.budget.max_nodes
            ))
        } else {
            Ok(())
        }
    }

    /// Places a completed value into its parent, or returns it when it is the document root.
    fn finish(&mut self, value: Value, anchor: usize) -> Result<Option<(Value, Position)>, String> {
        if anchor != 0 {
            self.anchors.push((anchor, value.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if !self.in_document {
                    return Ok(None);
                }
                Ok(Some((value, self.doc_start)))
            }
            Some(Partial::Seq { items, .. }) => {
                items.push(value);
                Ok(None)
            }
            Some(Partial::Map { map, key, .. }) => {
                match key.take() {
                    None => {
                        let k = match value {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        *key = Some(k);
                    }
                    Some(k) => {
                        if k == "<<" {
                            merge_into(map, value);
                        } else if map.contains_key(&k) {
                            return Err(format!("duplicate key `{k}`"));
                        } else {
                            map.insert(k, value);
                        }
                    }
                }
                Ok(None)
            }
        }
    }
}

/// YAML merge keys (`<<: *base`): entries already present win.
fn merge_into(map: &mut Map<String, Value>, value: Value) {
    let sources = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for source in sources {
        if let Value::Object(entries) = source {
            for (k, v) in entries {
                map.entry(k).or_insert(v);
            }
        }
    }
}

fn node_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a scalar with the YAML 1.2 core schema, as Kubernetes does.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::String(text.to_string()),
        Some("binary") => return Value::String(text.split_whitespace().collect()),
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

fn integer(text: &str) -> Option<Number> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    if let Ok(v) = i64::try_from(value) {
        Some(Number::from(v))
    } else {
        u64::try_from(value).ok().map(Number::from)
    }
}

fn looks_like_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_multi_document_yaml_with_positions() {
        let text = "a: 1\n---\nkind: Service\nspec:\n  ports:\n  - port: 80\n    name: http\n";
        let decoded = decode(text, Budget::default());
        assert!(decoded.error.is_none());
        assert_eq!(decoded.documents.len(), 2);
        assert_eq!(decoded.documents[1].value["spec"]["ports"][0]["port"], 80);
        assert_eq!(decoded.documents[1].start.line, 2);
        let pos = locate(text, 1, "spec.ports[0].name").unwrap();
        assert_eq!((pos.line, pos.column), (7, 5));
        let pos = locate(text, 1, "spec.ports[0]").unwrap();
        assert_eq!(pos.line, 6);
        assert_eq!(locate(text, 1, "spec.nothing"), None);
        let secret = "kind: Secret\ndata:\n  ca-cert.pem: abc\n  root-cert.pem: def\n";
        assert_eq!(
            locate(secret, 0, "data.root-cert.pem").map(|p| p.line),
            Some(4)
        );
    }

    #[test]
    fn core_schema_scalars() {
        let d = decode(
            "a: '1'\nb: 1\nc: true\nd: ~\ne: 1.5\nf: 0x1F\ng: abc\nh: \"true\"",
            Budget::default(),
        );
        let v = &d.documents[0].value;
        assert_eq!(v["a"], "1");
        assert_eq!(v["b"], 1);
        assert_eq!(v["c"], true);
        assert!(v["d"].is_null());
        assert_eq!(v["e"], 1.5);
        assert_eq!(v["f"], 31);
        assert_eq!(v["g"], "abc");
        assert_eq!(v["h"], "true");
    }

    #[test]
    fn keeps_documents_before_a_syntax_error() {
        let text = "kind: A\n---\nkind: B\nspec: {a: 1\n";
        let d = decode(text, Budget::default());
        assert_eq!(d.documents.len(), 1);
        let err = d.error.unwrap();
        assert_eq!(err.document, 1);
        assert!(err.position.line >= 4, "{err:?}");
    }

    #[test]
    fn alias_bomb_hits_the_node_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let d = decode(&text, Budget::default());
        let err = d.error.unwrap();
        assert!(err.message.contains("limit of 1000000 nodes"), "{err:?}");
    }

    #[test]
    fn deep_nesting_hits_the_depth_limit() {
        let text: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = decode(&text, Budget::default()).error.unwrap();
        assert!(err.message.contains("128 levels"), "{err:?}");
        // The parser's own limit guards flow collections before our budget sees them.
        let flow = "[".repeat(500) + &"]".repeat(500);
        assert!(decode(&flow, Budget::default()).error.is_some());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = decode("a: 1\na: 2\n", Budget::default()).error.unwrap();
        assert!(err.message.contains("duplicate key `a`"));
        assert_eq!(err.position.line, 2);
    }

    #[test]
    fn json_is_yaml() {
        let d = decode(
            r#"{"kind": "List", "items": [{"a": [1, 2]}]}"#,
            Budget::default(),
        );
        assert_eq!(d.documents[0].value["items"][0]["a"][1], 2);
    }
}
