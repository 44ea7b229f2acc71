//! Configuration files (registry, suites, lanes, known-failure lists): one
//! error type that names `file:line:column`, used by every loader.
//!
//! **Invariant:** every configuration error a user sees has a position.

/// A configuration file that did not load (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {reason}")]
    Unreadable {
        /// File name.
        origin: String,
        /// OS error.
        reason: String,
    },
    /// Syntax, an unknown key, a wrong type or value (with position).
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// File name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] at the first occurrence of `needle` in `text`.
    pub(crate) fn at(origin: &str, text: &str, needle: &str, message: String) -> Self {
        let (line, column) = locate(text, needle);
        Self::Invalid {
            origin: origin.to_owned(),
            line,
            column,
            message,
        }
    }

    /// A YAML error with its position.
    pub(crate) fn yaml(origin: &str, error: &serde_yaml_ng::Error) -> Self {
        let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
        Self::Invalid {
            origin: origin.to_owned(),
            line,
            column,
            message: error.to_string(),
        }
    }
}

/// 1-based line and column of the first occurrence of `needle` at or after
/// byte `from` (1:1 when absent).
pub(crate) fn locate_from(text: &str, needle: &str, from: usize) -> (usize, usize) {
    let from = from.min(text.len());
    text.get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or((1, 1), |found| {
            let offset = from + found;
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
            (line, column)
        })
}

/// 1-based line and column of the first occurrence of `needle` (1:1 when absent).
pub(crate) fn locate(text: &str, needle: &str) -> (usize, usize) {
    locate_from(text, needle, 0)
}

/// A configuration file's text and the name its errors use for it.
pub(crate) fn read(path: &std::path::Path) -> Result<(String, String), ConfigError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, origin)),
        Err(e) => Err(ConfigError::Unreadable {
            origin,
            reason: e.to_string(),
        }),
    }
}

/// The one version of every configuration file this build reads.
pub const VERSION: u32 = 1;

/// Deserializes a versioned YAML file strictly: YAML errors with their
/// position, then `version` must be [`VERSION`].
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    version: impl Fn(&T) -> u32,
) -> Result<T, ConfigError> {
    let raw: T = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::yaml(origin, &e))?;
    let found = version(&raw);
    if found != VERSION {
        return Err(ConfigError::at(
            origin,
            text,
            "version",
            format!("version {found} is not supported; this build reads version {VERSION}"),
        ));
    }
    Ok(raw)
}
