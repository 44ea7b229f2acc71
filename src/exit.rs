//! The process exit codes, in one place (README "Exit status" mirrors this).

use theory_contract::ErrorCode;

/// How `theory-conform` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed / the envelope is a success / the document is valid.
    Success = 0,
    /// A conformance failure: a failed trial, an error envelope, a violated rule.
    Failure = 1,
    /// Usage or configuration error: bad flag, unreadable or malformed input file.
    Usage = 2,
    /// Infrastructure error: engine down, image or endpoint missing, a
    /// declared secret not set, registry unreachable.
    Infrastructure = 3,
}

impl Exit {
    /// The exit code of `run` for an envelope's error code: the class of
    /// the code decides. The environment's failures (no engine, no image,
    /// no endpoint, a secret not set) are infrastructure (3); the
    /// processor's answers and breaches are conformance failures (1).
    pub const fn of_envelope(code: Option<ErrorCode>) -> Self {
        match code {
            None => Self::Success,
            Some(
                ErrorCode::Docker
                | ErrorCode::ImageNotFound
                | ErrorCode::EndpointMissing
                | ErrorCode::MissingSecret,
            ) => Self::Infrastructure,
            Some(
                ErrorCode::Inputs
                | ErrorCode::Health
                | ErrorCode::RegistryMismatch
                | ErrorCode::Timeout
                | ErrorCode::Internal,
            ) => Self::Failure,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}
