//! The process environment, read once.
//!
//! Every environment variable the harness consults (target selection,
//! Modal settings, declared secrets, `CI`, `DOCKER_HOST` for messages, the
//! temporary directory) comes from an [`Environment`]. The process's
//! variables are captured the first time [`Environment::process`] is called
//! and never read again; tests build their own with
//! [`Environment::from_pairs`].
//!
//! **Invariant:** this is the only module of the binary that reads
//! environment variables (`tests/architecture.rs` checks it); a secret's
//! value is registered with [`crate::redact`] the moment it is looked up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The credentials of Modal and of S3-compatible storage: secrets from the
/// moment the environment is captured.
pub const CREDENTIALS: [&str; 6] = [
    "MODAL_TOKEN_ID",
    "MODAL_TOKEN_SECRET",
    "THEORY_MODAL_PROXY_KEY",
    "THEORY_MODAL_PROXY_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Environment variables, captured once.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The process environment, captured on first use (non-UTF-8 values are
    /// ignored).
    pub fn process() -> &'static Self {
        static PROCESS: OnceLock<Environment> = OnceLock::new();
        PROCESS.get_or_init(|| {
            let env = Self {
                vars: std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                    .collect(),
            };
            // Credentials of the platforms the harness talks to are masked
            // from the start, whether or not this run uses them.
            for name in CREDENTIALS {
                let _ = env.secret(name);
            }
            env
        })
    }

    /// A copy of [`Environment::process`].
    pub fn capture() -> Self {
        Self::process().clone()
    }

    /// An environment from pairs (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The value of `key`; an empty value counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of the secret `name`, registered with [`crate::redact`]
    /// first so it can never reach a log, an envelope or a report.
    pub fn secret(&self, name: &str) -> Option<&str> {
        let value = self.get(name)?;
        crate::redact::register(value);
        Some(value)
    }

    /// Whether `CI=true` (the golden store is then read-only).
    pub fn ci(&self) -> bool {
        self.get("CI") == Some("true")
    }

    /// Where the container engine is, for messages: `DOCKER_HOST`, or the
    /// default socket.
    pub fn docker_host(&self) -> &str {
        self.get("DOCKER_HOST").unwrap_or("the default socket")
    }

    /// The directory for temporary files: `TMPDIR`, or `/tmp`.
    pub fn temp_dir(&self) -> PathBuf {
        PathBuf::from(self.get("TMPDIR").unwrap_or("/tmp"))
    }

    /// The S3 server binary a local store runs (`ci/storage-up` installs
    /// it): `THEORY_S3S_FS`, else cargo's bin folder (`CARGO_HOME`, else
    /// `~/.cargo`), else `s3s-fs` on the `PATH`.
    pub fn s3s_fs(&self) -> PathBuf {
        if let Some(binary) = self.get("THEORY_S3S_FS") {
            return PathBuf::from(binary);
        }
        let cargo_home = self.get("CARGO_HOME").map(PathBuf::from).or_else(|| {
            self.get("HOME")
                .map(|home| PathBuf::from(home).join(".cargo"))
        });
        cargo_home
            .map(|home| home.join("bin/s3s-fs"))
            .filter(|binary| binary.is_file())
            .unwrap_or_else(|| PathBuf::from("s3s-fs"))
    }
}

#[cfg(test)]
mod tests {
    use super::Environment;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_pairs([("A", ""), ("B", "b"), ("CI", "1")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get("B"), Some("b"));
        assert_eq!(env.get("C"), None);
        assert!(!env.ci());
        assert!(Environment::from_pairs([("CI", "true")]).ci());
        assert_eq!(env.docker_host(), "the default socket");
        assert_eq!(env.temp_dir(), std::path::PathBuf::from("/tmp"));
    }

    #[test]
    fn a_secret_looked_up_is_redacted_from_then_on() {
        let env = Environment::from_pairs([("TOKEN", "s3cr3t-env-value")]);
        assert_eq!(
            crate::redact::text("x s3cr3t-env-value y"),
            "x s3cr3t-env-value y"
        );
        assert_eq!(env.secret("TOKEN"), Some("s3cr3t-env-value"));
        assert_eq!(
            crate::redact::text("x s3cr3t-env-value y"),
            format!("x {} y", crate::redact::MASK)
        );
        assert_eq!(env.secret("MISSING"), None);
    }

    #[test]
    fn the_process_environment_is_captured_once() {
        assert!(std::ptr::eq(Environment::process(), Environment::process()));
    }
}
