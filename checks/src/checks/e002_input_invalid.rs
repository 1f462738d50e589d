use crate::context::Context;
use crate::finding::{Evidence, Finding, Location};
use crate::model::Origin;

crate::declare_check! {
    /// A file or object could not be parsed.
    ///
    /// **What it checks.** Every input document must be valid YAML or JSON, and every object
    /// of a kind the tool reads must match that kind's schema (a port is a number, a list is a
    /// list). Each problem is reported with file, document index, line and column.
    ///
    /// **Why it matters.** The rest of the input is still analysed, but whatever the broken
    /// document held is missing from the diagnosis; Kubernetes would reject it too.
    ///
    /// **How to fix.** Correct the document at the reported position (`kubectl apply
    /// --dry-run=server -f FILE` shows what the API server thinks of it).
    pub static CHECK = {
        code: "E002",
        name: "input-invalid",
        category: Environment,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        for invalid in &view.mesh.invalid {
            let what = invalid
                .object
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_else(|| "a document".to_string());
            let field = invalid
                .field
                .as_deref()
                .map(|f| format!(" field `{f}`"))
                .unwrap_or_default();
            let mut evidence = Evidence::fact(view.side, invalid.message.clone());
            if let Some(o) = &invalid.object {
                evidence.kind = o.kind.clone();
                evidence.namespace = o.namespace.clone();
                evidence.name = o.name.clone();
            }
            evidence.field = invalid.field.clone();
            if let Origin::File {
                path,
                document,
                line,
                column,
            } = &invalid.origin
            {
                evidence.location = Some(Location {
                    path: path.clone(),
                    line: *line,
                    column: *column,
                    document: *document,
                });
            }
            out.push(
                Finding::new(
                    &CHECK.info,
                    view.side,
                    format!("{} ({}){}: {}", what, invalid.origin, field, invalid.message),
                )
                .evidence(evidence)
                .fix("Correct the document at the reported position; the rest of the input was analysed without it."),
            );
        }
    }
    out
}
