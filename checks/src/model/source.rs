//! Where an object came from: a file position or a cluster.

use serde::{Deserialize, Serialize};

use crate::yaml::Position;

/// The origin of one Kubernetes object in the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Origin {
    /// A document in a file: `path` as the user named it, 0-based document index, and where the
    /// document starts.
    File {
        path: String,
        document: usize,
        line: u32,
        column: u32,
    },
    /// An object read from a live cluster through the Kubernetes API.
    Cluster { context: String },
    /// Derived by the tool (e.g. the mesh defaults when no `istio` ConfigMap exists).
    Default,
}

impl Origin {
    pub fn file(path: impl Into<String>, document: usize, start: Position) -> Origin {
        Origin::File {
            path: path.into(),
            document,
            line: start.line,
            column: start.column,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line, .. } => write!(f, "{path}:{line}"),
            Origin::Cluster { context } => write!(f, "cluster {context}"),
            Origin::Default => f.write_str("built-in default"),
        }
    }
}
