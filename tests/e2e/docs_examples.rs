//! The documented configuration against the code: every `docs/examples/*.yaml` and the
//! ConfigMap's `gateway.yaml` go through the gateway's own parser, which refuses unknown keys,
//! so the reference cannot drift. The examples' key files are relative to the repository root,
//! the working directory of `cargo test`. Also: every relative link in the README and `docs/`
//! points at a file that exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The files in `dir` (relative to the repository root) whose name ends with `.{ext}`, sorted.
fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_file(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_configuration_example_in_the_docs_is_valid() {
    let examples = files("docs/examples", "yaml");
    assert!(!examples.is_empty(), "no docs/examples/*.yaml");
    let mut problems = Vec::new();
    for path in &examples {
        let origin = format!("docs/examples/{}", file_name(path));
        if let Err(e) = authgate::config::parse(&read(path), &origin, &|v| std::env::var(v).ok()) {
            problems.push(e.to_string());
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `value` without the dotted `path` (`store`, `session.encryption_key`, `clients.jwt-app`).
fn without(mut value: serde_json::Value, path: &str) -> serde_json::Value {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut at = &mut value;
    for p in parts {
        at = &mut at[p];
    }
    if let Some(map) = at.as_object_mut() {
        map.remove(last);
    }
    value
}

/// An example that says it is the demo's file with only some keys changed is exactly that:
/// the pages that name it say its other blocks (management, login_redirect, the website's
/// browser login) work as in the demo.
#[test]
fn every_example_is_the_demo_with_only_what_it_names_changed() {
    const MARK: &str = "# The demo's gateway.yaml (README.md) with only this changed: ";
    let yaml = |text: &str| -> serde_json::Value { serde_saphyr::from_str(text).unwrap() };
    let demo = yaml(&read(&repo_file("gateway.yaml")));
    for path in files("docs/examples", "yaml") {
        let text = read(&path);
        let Some(line) = text.lines().find(|l| l.starts_with(MARK)) else {
            assert!(text.contains("Not derived from the\n# demo's gateway.yaml"), "{path:?} says neither");
            continue;
        };
        let changed: Vec<&str> =
            line[MARK.len()..].split(" (").next().unwrap().trim_end_matches('.').split(", ").collect();
        let (mut example, mut base) = (yaml(&text), demo.clone());
        for key in &changed {
            assert_ne!(without(example.clone(), key), example, "{path:?} names {key}, which it does not have");
            example = without(example, key);
            base = without(base, key);
        }
        assert_eq!(example, base, "{path:?} differs from gateway.yaml in more than {changed:?}");
    }
}

/// Every `error` code the gateway answers with (an `ApiError` built in `src/`) is in the errors
/// table of docs/endpoints.md: a new refusal cannot go undocumented.
#[test]
fn every_error_code_the_code_answers_is_in_the_errors_table() {
    fn sources(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                *out += &read(&path);
            }
        }
    }
    let mut code = String::new();
    sources(&repo_file("src"), &mut code);
    let doc = read(&repo_file("docs/endpoints.md"));
    let table = &doc[doc.find("## Errors").unwrap()..doc.find("## How the login call is shaped").unwrap()];
    let mut codes = std::collections::BTreeSet::new();
    for start in ["ApiError::new(", "Self::new("] {
        for (at, _) in code.match_indices(start) {
            let call: String = code[at + start.len()..].chars().take(120).collect();
            // (status, "code", …): the first string literal, when it comes right after the status.
            let Some((status, rest)) = call.split_once(',') else { continue };
            let rest = rest.trim_start();
            if status.trim().parse::<u16>().is_err() && status.trim() != "status" || !rest.starts_with('"') {
                continue;
            }
            codes.insert(rest[1..].split('"').next().unwrap().to_string());
        }
    }
    assert!(codes.len() > 10, "the scan found too few codes: {codes:?}");
    let missing: Vec<&String> = codes.iter().filter(|c| !table.contains(c.as_str())).collect();
    assert!(missing.is_empty(), "error codes not in docs/endpoints.md's errors table: {missing:?}");
}

#[test]
fn every_configuration_example_is_shown_in_the_docs() {
    let mut docs = String::new();
    for page in files("docs", "md") {
        docs += &read(&page);
    }
    for path in files("docs/examples", "yaml") {
        let name = file_name(&path);
        let line = format!("[docs/examples/{name}](examples/{name})");
        assert!(docs.contains(&line), "no page in docs/ names {line}");
    }
}

#[test]
fn the_configmap_gateway_yaml_is_valid_with_the_secret_variables() {
    let configmap = read(&repo_file("deploy/kubernetes/base/configmap.yaml"));
    let configmap: serde_json::Value = serde_saphyr::from_str(&configmap).unwrap();
    let text = configmap["data"]["gateway.yaml"].as_str().expect("the ConfigMap has data.\"gateway.yaml\"");

    // The Deployment gives the sidecar the Secret's keys as environment variables; the values
    // here are dummies, distinct and long enough to be client secrets.
    let secret = read(&repo_file("deploy/kubernetes/base/secret.yaml"));
    let secret: serde_json::Value = serde_saphyr::from_str(&secret).unwrap();
    let variables: BTreeMap<String, String> = secret["stringData"]
        .as_object()
        .expect("the Secret has stringData")
        .keys()
        .map(|name| (name.clone(), format!("dummy-value-of-{name}")))
        .collect();
    assert!(!variables.is_empty(), "the Secret defines no variable");

    let config = authgate::config::parse(text, "deploy/kubernetes/base/configmap.yaml: gateway.yaml", &|v| {
        variables.get(v).cloned()
    });
    if let Err(e) = config {
        panic!("{e}");
    }
}

#[test]
fn every_relative_link_in_the_docs_points_at_a_file() {
    let mut pages = vec![repo_file("README.md")];
    pages.extend(files("docs", "md"));
    let mut broken = Vec::new();
    for page in &pages {
        let text = read(page);
        let dir = page.parent().unwrap();
        for (at, _) in text.match_indices("](") {
            let rest = &text[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !dir.join(target).exists() {
                broken.push(format!("{}: {target}", file_name(page)));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
}
