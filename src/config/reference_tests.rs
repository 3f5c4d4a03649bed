//! The configuration reference cannot drift: every key the file format accepts is a row of
//! docs/configuration.md (or lies under one), and every row names a key it accepts. The keys
//! are read from the parser itself: it refuses an unknown key by naming the ones it expects.

use super::{parse, ConfigError};
use std::collections::BTreeSet;

const PROBE: &str = "zz_probe";

/// `inner` at `path` in flow YAML: `NAME` is any map key, `[]` a list's item.
fn nest(path: &[String], inner: String) -> String {
    path.iter().rev().fold(inner, |inner, segment| match segment.as_str() {
        "[]" => format!("[{inner}]"),
        key => format!("{{{key}: {inner}}}"),
    })
}

/// The keys a block at `path` accepts, as its refusal of an unknown key lists them; `None`
/// when `path` is not a block of named keys.
fn accepted_under(path: &[String]) -> Option<Vec<String>> {
    let yaml = nest(path, format!("{{{PROBE}: 1}}"));
    let Err(ConfigError::Invalid { problems, .. }) = parse(&yaml, "probe", &|_| None) else {
        return None;
    };
    let problem = problems.first()?;
    let expected = problem.split(&format!("unknown field `{PROBE}`, expected")).nth(1)?;
    Some(expected.split('`').skip(1).step_by(2).map(str::to_string).collect())
}

/// Every key the format accepts, dotted (`clients.NAME.secret`, `routes.rules[].prefix`).
fn accepted_keys(path: &mut Vec<String>, out: &mut BTreeSet<String>) {
    for key in accepted_under(path).unwrap_or_default() {
        path.push(key);
        let dotted = path.join(".").replace(".[]", "[]");
        let mut nested = false;
        for child in [None, Some("[]"), Some("NAME")] {
            if let Some(c) = child {
                path.push(c.to_string());
            }
            if accepted_under(path).is_some() {
                accepted_keys(path, out);
                nested = true;
            }
            if child.is_some() {
                path.pop();
            }
            if nested {
                break;
            }
        }
        if !nested {
            out.insert(dotted);
        }
        path.pop();
    }
}

/// The keys the reference's tables name: the first cell's back-quoted names, where
/// `` `a.b` / `c` `` names `a.b` and `a.c`.
fn documented_keys() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let text = std::fs::read_to_string(path).expect("docs/configuration.md");
    let mut out = BTreeSet::new();
    for row in text.lines().filter(|l| l.starts_with("| `")) {
        let cell = row.split('|').nth(1).unwrap_or_default();
        let mut parent = String::new();
        for name in cell.split('`').skip(1).step_by(2) {
            let full =
                if name.contains('.') || parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") };
            parent = full.rsplit_once('.').map(|(p, _)| p.to_string()).unwrap_or_default();
            out.insert(full);
        }
    }
    out
}

#[test]
fn every_key_the_format_accepts_is_in_the_reference_and_the_reverse() {
    let mut accepted = BTreeSet::new();
    accepted_keys(&mut Vec::new(), &mut accepted);
    assert!(accepted.len() > 100, "the probe found too few keys: {accepted:?}");
    let documented = documented_keys();
    // A key is covered by its own row or by a row of a block it lies in (`limits.login` covers
    // its `rate` and `burst`).
    let covered = |key: &String| {
        let mut k = key.as_str();
        loop {
            if documented.contains(k) {
                return true;
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => return false,
            }
        }
    };
    let undocumented: Vec<_> = accepted.iter().filter(|k| !covered(k)).collect();
    assert!(undocumented.is_empty(), "accepted, not in docs/configuration.md: {undocumented:?}");
    let covers_some = |doc: &String| accepted.iter().any(|k| k == doc || k.starts_with(&format!("{doc}.")));
    let unknown: Vec<_> = documented.iter().filter(|d| !covers_some(d)).collect();
    assert!(unknown.is_empty(), "in docs/configuration.md, not accepted: {unknown:?}");
}
