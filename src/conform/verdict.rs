//! Verdicts: what a trial concluded, as plain data.
//!
//! A processor's non-conformance is [`Verdict::Fail`]; a problem of the
//! infrastructure (engine down, endpoint or image missing, a declared
//! secret absent) is [`Verdict::Error`]; a trial that cannot apply is
//! [`Verdict::Skip`] with its reason.
//!
//! **Invariant:** data only: no IO, no printing.

/// What one trial concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// The processor broke the contract.
    Fail(Failure),
    /// The infrastructure failed; nothing was learned about the processor.
    Error {
        /// What failed, with the actionable detail.
        message: String,
    },
    /// The trial does not apply.
    Skip {
        /// Why.
        reason: String,
    },
}

/// A conformance failure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failure {
    /// One line per broken expectation, each naming the rule or code.
    pub message: String,
    /// Unified diffs (goldens, parity, determinism), when any.
    pub diff: Option<String>,
    /// The wire trace of the exchange that failed (redacted).
    pub trace: Option<String>,
}

impl Verdict {
    /// An infrastructure error.
    pub fn error(message: impl Into<String>) -> Self {
        Self::Error {
            message: message.into(),
        }
    }

    /// A trial that does not apply.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::Skip {
            reason: reason.into(),
        }
    }

    /// A conformance failure with a message only (no diff, no trace).
    pub fn fail(message: impl Into<String>) -> Self {
        Self::Fail(Failure {
            message: message.into(),
            diff: None,
            trace: None,
        })
    }

    /// Whether the trial failed or errored (what is retried and replayed).
    pub const fn is_failure(&self) -> bool {
        matches!(self, Self::Fail(_) | Self::Error { .. })
    }

    /// `pass`, `fail`, `error` or `skip`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail(_) => "fail",
            Self::Error { .. } => "error",
            Self::Skip { .. } => "skip",
        }
    }

    /// The one-paragraph message (empty for a pass).
    pub fn message(&self) -> &str {
        match self {
            Self::Pass => "",
            Self::Fail(failure) => &failure.message,
            Self::Error { message } => message,
            Self::Skip { reason } => reason,
        }
    }

    /// Everything a human needs: the message, the diff and the trace.
    pub fn details(&self) -> String {
        match self {
            Self::Pass => String::new(),
            Self::Error { message } => format!("error: {message}"),
            Self::Skip { reason } => format!("skipped: {reason}"),
            Self::Fail(failure) => {
                let mut out = failure.message.clone();
                if let Some(diff) = &failure.diff {
                    out.push_str("\n\n");
                    out.push_str(diff.trim_end());
                }
                if let Some(trace) = &failure.trace {
                    out.push_str("\n\nwire trace:\n");
                    out.push_str(trace.trim_end());
                }
                out
            }
        }
    }
}

/// Collects a trial's findings and turns them into one verdict.
#[derive(Debug, Default)]
pub struct Findings {
    problems: Vec<String>,
    diffs: Vec<String>,
    trace: Option<String>,
    error: Option<String>,
}

impl Findings {
    /// A broken expectation.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// A broken expectation with the exchange that showed it.
    pub fn fail_traced(&mut self, message: impl Into<String>, trace: String) {
        self.problems.push(message.into());
        if self.trace.is_none() {
            self.trace = Some(trace);
        }
    }

    /// A diff to show.
    pub fn diff(&mut self, title: &str, diff: String) {
        self.diffs.push(format!("{title}\n{}", diff.trim_end()));
    }

    /// An infrastructure error: the verdict becomes [`Verdict::Error`].
    pub fn error(&mut self, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(message.into());
        }
    }

    /// Whether nothing went wrong so far.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.error.is_none()
    }

    /// The verdict.
    pub fn verdict(self) -> Verdict {
        if let Some(message) = self.error {
            return Verdict::Error { message };
        }
        if self.problems.is_empty() {
            return Verdict::Pass;
        }
        Verdict::Fail(Failure {
            message: self.problems.join("\n"),
            diff: (!self.diffs.is_empty()).then(|| self.diffs.join("\n\n")),
            trace: self.trace,
        })
    }
}
