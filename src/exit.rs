//! The process exit codes, in one place (README "Exit status" mirrors this).

/// How `theory-conform` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed / the envelope is a success / the document is valid.
    Success = 0,
    /// A conformance failure: a failed trial, an error envelope, a violated rule.
    Failure = 1,
    /// Usage or configuration error: bad flag, unreadable or malformed input file.
    Usage = 2,
    /// Infrastructure error: engine down, registry unreachable.
    Infrastructure = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}
