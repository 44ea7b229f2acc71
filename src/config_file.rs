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
    /// The message loses serde's own `at line L column C`: the position
    /// is said once, first.
    pub(crate) fn yaml(origin: &str, error: &serde_yaml_ng::Error) -> Self {
        let (line, column) = error.location().map_or((1, 1), |l| (l.line(), l.column()));
        let message = error.to_string();
        let message = strip_position(&message, line, column).to_owned();
        Self::Invalid {
            origin: origin.to_owned(),
            line,
            column,
            message,
        }
    }
}

/// `message` without a trailing ` at line L column C` naming this position.
fn strip_position(message: &str, line: usize, column: usize) -> &str {
    message
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(message)
}

/// 1-based line and column of the first occurrence of `needle` at or after
/// byte `from` (1:1 when absent).
pub(crate) fn locate_from(text: &str, needle: &str, from: usize) -> (usize, usize) {
    let from = from.min(text.len());
    text.get(from..)
        .and_then(|rest| rest.find(needle))
        .map_or((1, 1), |found| position(text, from + found))
}

/// 1-based line and column of the last of `needles`, each found after the
/// one before it, starting at byte `from`: a field, then its value. With no
/// needles, or one absent, the position reached so far (of `from`).
pub(crate) fn locate_path(text: &str, from: usize, needles: &[&str]) -> (usize, usize) {
    let mut at = from.min(text.len());
    for needle in needles {
        match text.get(at..).and_then(|rest| rest.find(needle)) {
            Some(found) => at += found,
            None => break,
        }
    }
    position(text, at)
}

/// 1-based line and column of byte `offset`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
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

/// The deepest nesting of flow collections (`[`, `{`) a configuration file
/// may have, as for JSON (`canon::MAX_DEPTH`): deeper files are refused
/// before the YAML parser, whose time grows with the square of the depth,
/// sees them.
pub const MAX_DEPTH: usize = theory_contract::canon::MAX_DEPTH;

/// Refuses text nested deeper than [`MAX_DEPTH`], at the bracket that goes
/// one level too deep. A linear scan that skips quoted scalars and comments
/// (a quote or `#` counts only where YAML would start one).
fn check_depth(text: &str, origin: &str) -> Result<(), ConfigError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let starts_token = i == 0 || b" \t\r\n[{,:".contains(&bytes[i - 1]);
        match bytes[i] {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let (line, column) = position(text, i);
                    return Err(ConfigError::Invalid {
                        origin: origin.to_owned(),
                        line,
                        column,
                        message: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' if starts_token => {
                i += bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(bytes.len() - i);
            }
            b'"' if starts_token => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if starts_token => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
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
    check_depth(text, origin)?;
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

#[cfg(test)]
mod tests {
    use super::{ConfigError, MAX_DEPTH, check_depth};

    fn depth_error(text: &str) -> Option<String> {
        check_depth(text, "f.yaml").err().map(|e| e.to_string())
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_is_placed() {
        let ok = format!("a: {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(depth_error(&ok), None);
        let deep = format!("a:\n  b: {}", "[".repeat(MAX_DEPTH + 1));
        let column = 6 + MAX_DEPTH;
        assert_eq!(
            depth_error(&deep),
            Some(format!(
                "f.yaml:2:{column}: nested deeper than {MAX_DEPTH} levels"
            ))
        );
    }

    #[test]
    fn brackets_in_quotes_and_comments_do_not_count() {
        let many = "[".repeat(MAX_DEPTH + 1);
        for text in [
            format!("a: \"{many}\"\n"),
            format!("a: '{many}'\n"),
            format!("a: 1 # {many}\n"),
            format!("# {many}\n"),
            format!("a: \"x\\\"{many}\"\n"),
        ] {
            assert_eq!(depth_error(&text), None, "{text}");
        }
        assert!(depth_error(&format!("a: b'{many}")).is_some());
    }

    #[test]
    fn a_yaml_message_names_its_position_once() {
        let error =
            serde_yaml_ng::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\nb: x\n")
                .expect_err("not a number");
        let config = ConfigError::yaml("f.yaml", &error).to_string();
        assert!(config.starts_with("f.yaml:2:4: "), "{config}");
        assert!(!config.contains(" at line "), "{config}");
    }
}
