//! Configuration: read `gateway.yaml`, interpolate `${VAR}`, parse, validate.

mod authz;
mod file;
mod interpolate;
mod model;
mod rate;
mod summary;
mod validate;

pub(crate) use authz::{Alternative, Condition, Need};
pub use model::*;
pub use rate::{LimitsConfig, Rate};

use std::path::Path;

/// Why a configuration could not be loaded; the message names the key and the value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not valid YAML: {message}")]
    Yaml { path: String, message: String },
    #[error("{path}: invalid configuration:\n  {}", .problems.join("\n  "))]
    Invalid { path: String, problems: Vec<String> },
}

/// Load and validate a configuration file, taking `${VAR}` values from the environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string(), &|name| std::env::var(name).ok())
}

/// Parse and validate configuration text; `lookup` resolves `${VAR}`.
pub fn parse(text: &str, origin: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let invalid = |problems| ConfigError::Invalid { path: origin.to_string(), problems };
    let mut tree: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| ConfigError::Yaml { path: origin.to_string(), message: e.to_string() })?;
    let mut problems = Vec::new();
    interpolate::interpolate_tree(&mut tree, lookup, "", &mut problems);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let file: file::FileConfig = serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { "(root)".to_string() } else { path };
        invalid(vec![format!("{key}: {}", e.into_inner())])
    })?;
    validate::validate(file, lookup("SESSION_DURATION_SECONDS")).map_err(invalid)
}

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;
