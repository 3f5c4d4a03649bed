//! `${VAR}` and `${VAR:-default}` interpolation over every string of the parsed file.

use serde_json::Value;

/// Replace every `${VAR}` / `${VAR:-default}` in every string of `value`, in place.
/// `$$` stands for a literal `$`. A string that was only one placeholder and now reads as a
/// number or a boolean becomes that number or boolean, so `threads: ${THREADS:-2}` works.
pub(crate) fn interpolate_tree(
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &str,
    errors: &mut Vec<String>,
) {
    match value {
        Value::String(s) => match interpolate(s, lookup) {
            Ok(out) => {
                let whole = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
                *value = if whole { typed_scalar(out) } else { Value::String(out) };
            }
            Err(e) => errors.push(format!("{}: {e}", display_path(path))),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, lookup, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                interpolate_tree(v, lookup, &child, errors);
            }
        }
        _ => {}
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

fn typed_scalar(s: String) -> Value {
    if let Ok(n) = s.parse::<u64>() {
        return Value::from(n);
    }
    match s.as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(s),
    }
}

/// Interpolate one string. Errors name the variable that is missing or malformed.
pub(crate) fn interpolate(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("unclosed \"${{\" in {input:?}"))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name {name:?}"));
            }
            match (lookup(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable {name} is not set and has no default")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "NUM" => Some("4".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variables_and_defaults() {
        assert_eq!(interpolate("a-${SET}-b", &env).unwrap(), "a-value-b");
        assert_eq!(interpolate("${UNSET:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(interpolate("${SET:-fallback}", &env).unwrap(), "value");
        assert_eq!(interpolate("${UNSET:-}", &env).unwrap(), "");
        assert_eq!(interpolate("cost $$5 and $x", &env).unwrap(), "cost $5 and $x");
    }

    #[test]
    fn missing_variable_without_default_is_an_error_naming_it() {
        let err = interpolate("${MISSING_SECRET}", &env).unwrap_err();
        assert!(err.contains("MISSING_SECRET"), "{err}");
        assert!(interpolate("${OPEN", &env).is_err());
        assert!(interpolate("${bad name}", &env).is_err());
    }

    #[test]
    fn tree_interpolation_types_whole_placeholders_and_reports_paths() {
        let mut v = serde_json::json!({"threads": "${NUM}", "name": "x${NUM}", "list": ["${NOPE}"]});
        let mut errors = vec![];
        interpolate_tree(&mut v, &env, "", &mut errors);
        assert_eq!(v["threads"], serde_json::json!(4));
        assert_eq!(v["name"], serde_json::json!("x4"));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("list[0]: "), "{errors:?}");
    }
}
