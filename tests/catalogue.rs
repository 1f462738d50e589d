//! The catalogue is a public contract: codes and names never change silently.

use std::fs;

use crate::common::{istio_peer, root};

/// One line per code: `CODE name category severity` (implemented) or `CODE name reserved`.
fn catalogue_text() -> String {
    let mut lines: Vec<String> = checks::registry::all()
        .iter()
        .map(|c| {
            let i = &c.info;
            format!(
                "{} {} {} {}",
                i.code,
                i.name,
                i.category.as_str(),
                i.severity.as_str()
            )
        })
        .collect();
    lines.extend(
        checks::registry::RESERVED
            .iter()
            .map(|(c, n)| format!("{c} {n} reserved")),
    );
    lines.extend(
        checks::registry::RETIRED
            .iter()
            .map(|(c, n)| format!("{c} {n} retired")),
    );
    lines.sort();
    lines.join("\n") + "\n"
}

#[test]
fn catalogue_matches_its_snapshot() {
    let path = root().join("tests/snapshots/catalogue.txt");
    let actual = catalogue_text();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::write(&path, &actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "the catalogue changed: review, then run with UPDATE_SNAPSHOTS=1 (codes are never reused)"
    );
}

#[test]
fn codes_are_unique_and_follow_their_category() {
    let mut seen = std::collections::BTreeSet::new();
    for check in checks::registry::all() {
        let i = &check.info;
        assert!(seen.insert(i.code), "duplicate code {}", i.code);
        assert!(
            i.code.starts_with(i.category.letter()),
            "{} in category {}",
            i.code,
            i.category.as_str()
        );
        assert!(!i.summary.is_empty(), "{} has no summary", i.code);
        let text = checks::registry::explanation(i);
        for heading in ["**What it checks.**", "**How to fix.**"] {
            assert!(
                text.contains(heading),
                "{} explanation lacks {heading}",
                i.code
            );
        }
    }
    for (code, _) in checks::registry::RESERVED
        .iter()
        .chain(checks::registry::RETIRED)
    {
        assert!(
            seen.insert(code),
            "reserved/retired code {code} is also implemented"
        );
    }
}

#[test]
fn readme_lists_every_check() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    for check in checks::registry::all() {
        let row = format!("| {} | {} |", check.info.code, check.info.name);
        assert!(readme.contains(&row), "README's catalogue lacks `{row}`");
    }
}

#[test]
fn checks_command_lists_the_catalogue_as_json() {
    let run = istio_peer(&["checks", "-o", "json"]);
    assert_eq!(run.code, 0);
    let list = run.json();
    let entries = list["checks"].as_array().unwrap();
    let t001 = entries.iter().find(|c| c["code"] == "T001").unwrap();
    assert_eq!(t001["name"], "client-does-not-trust-server-ca");
    assert_eq!(t001["severity"], "error");
    assert_eq!(
        entries.len(),
        checks::registry::all().len() + checks::registry::RESERVED.len()
    );
}

#[test]
fn explain_prints_the_doc_comment_by_code_or_name() {
    let by_code = istio_peer(&["explain", "T005"]);
    assert_eq!(by_code.code, 0);
    assert!(by_code.stdout.starts_with("T005 chain-incomplete"));
    assert!(by_code.stdout.contains("cert-chain.pem"));
    let by_name = istio_peer(&["explain", "chain-incomplete"]);
    assert_eq!(by_name.stdout, by_code.stdout);
    let unknown = istio_peer(&["explain", "Z999"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("`Z999` is neither a check"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn explain_decodes_pasted_envoy_errors() {
    let line = "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end";
    let run = istio_peer(&["explain", line]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("CERTIFICATE_VERIFY_FAILED (268435581)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("likely causes: T001 client-does-not-trust-server-ca"),
        "{}",
        run.stdout
    );
    let curl = istio_peer(&[
        "explain",
        "curl: (35) error:0A000418:SSL routines::tlsv1 alert unknown ca",
    ]);
    assert!(
        curl.stdout.contains("T002 server-does-not-trust-client-ca"),
        "{}",
        curl.stdout
    );
    let rbac = istio_peer(&["explain", "RBAC: access denied"]);
    assert!(rbac.stdout.contains("I003"), "{}", rbac.stdout);
}
