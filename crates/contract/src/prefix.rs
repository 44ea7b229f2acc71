//! The write prefix: a template such as `/tmp/{execution_id}/`, expanded once
//! (CONTRACT.md §7).

/// The one placeholder a template may carry.
pub const PLACEHOLDER: &str = "{execution_id}";

/// An expanded write prefix: absolute, normalised (no empty, `.` or `..`
/// segment), never `/` itself, ending in exactly one `/`.
///
/// ```
/// use theory_contract::WritePrefix;
/// let p = WritePrefix::expand("/tmp/{execution_id}", "run-1").unwrap();
/// assert_eq!(p.as_str(), "/tmp/run-1/");
/// assert!(p.contains("/tmp/run-1/a.txt"));
/// assert!(WritePrefix::expand("tmp/{execution_id}/", "x").is_err());
/// assert!(WritePrefix::expand("/tmp/../{execution_id}/", "x").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WritePrefix(String);

/// Why a template (or an already expanded prefix) is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// It does not start with `/`.
    #[error("write prefix {0:?} is relative; it must start with `/`")]
    Relative(String),
    /// It has a `..` segment (before or after substitution).
    #[error("write prefix {0:?} has a `..` segment")]
    DotDot(String),
    /// It has a `{` that does not start `{execution_id}`, or a stray `}`.
    #[error("write prefix {0:?} has an unknown placeholder; only `{{execution_id}}` is known")]
    UnknownPlaceholder(String),
    /// It has a NUL or another control character.
    #[error("write prefix {0:?} has a control character")]
    ControlChar(String),
    /// It names the root directory itself.
    #[error("write prefix {0:?} is the root directory")]
    Root(String),
    /// The execution id substituted into it is empty.
    #[error("execution id is empty")]
    EmptyExecutionId,
    /// The execution id is not one path segment (`/`, `.` or `..`), so two
    /// runs could share a prefix.
    #[error("execution id {0:?} is not a single path segment")]
    ExecutionIdSegment(String),
}

impl WritePrefix {
    /// Substitutes `{execution_id}` (every occurrence, in one pass: the id is
    /// never expanded again), then checks and normalises the result.
    pub fn expand(template: &str, execution_id: &str) -> Result<Self, PrefixError> {
        if execution_id.is_empty() {
            return Err(PrefixError::EmptyExecutionId);
        }
        if execution_id.contains('/') || execution_id == "." || execution_id == ".." {
            return Err(PrefixError::ExecutionIdSegment(execution_id.to_owned()));
        }
        let stripped = template.replace(PLACEHOLDER, "");
        if stripped.contains(['{', '}']) {
            return Err(PrefixError::UnknownPlaceholder(template.to_owned()));
        }
        check_template(template)?;
        Self::parse(&template.replace(PLACEHOLDER, execution_id))
    }

    /// Accepts an already expanded prefix (as a processor receives it), with
    /// the same checks as [`WritePrefix::expand`] and the same normalisation
    /// (a missing trailing `/` is added). A brace means an unexpanded
    /// template and is refused.
    pub fn parse(prefix: &str) -> Result<Self, PrefixError> {
        check_template(prefix)?;
        if prefix.contains(['{', '}']) {
            return Err(PrefixError::UnknownPlaceholder(prefix.to_owned()));
        }
        let segments: Vec<&str> = prefix
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        if segments.is_empty() {
            return Err(PrefixError::Root(prefix.to_owned()));
        }
        let mut out = String::with_capacity(prefix.len() + 1);
        for segment in segments {
            out.push('/');
            out.push_str(segment);
        }
        out.push('/');
        Ok(Self(out))
    }

    /// The prefix, ending in `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `path` names something strictly below this prefix, by string
    /// (no file system access; a `..` segment in `path` is never contained).
    pub fn contains(&self, path: &str) -> bool {
        path.len() > self.0.len()
            && path.starts_with(&self.0)
            && !path.split('/').any(|s| s == "..")
    }

    /// The absolute path of `relative` under this prefix.
    pub fn join(&self, relative: &str) -> String {
        format!("{}{}", self.0, relative.trim_start_matches('/'))
    }
}

fn check_template(s: &str) -> Result<(), PrefixError> {
    if !s.starts_with('/') {
        return Err(PrefixError::Relative(s.to_owned()));
    }
    if s.chars().any(char::is_control) {
        return Err(PrefixError::ControlChar(s.to_owned()));
    }
    if s.split('/').any(|seg| seg == "..") {
        return Err(PrefixError::DotDot(s.to_owned()));
    }
    Ok(())
}

impl std::fmt::Display for WritePrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether an absolute path is in normal form: starts with `/`, no empty,
/// `.` or `..` segment, no trailing `/`, no control character.
pub fn is_normal_path(path: &str) -> bool {
    !path.chars().any(char::is_control)
        && path.strip_prefix('/').is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != "..")
        })
}
