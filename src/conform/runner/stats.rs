//! [`RunStats`]: what a finished run counted, and the one decision of its
//! exit code.

use super::super::report::{self, Counts, Event};
use crate::exit::Exit;

/// What a finished lane run counted: its trials by status, and the
/// reports that could not be written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// The trials by status.
    pub counts: Counts,
    /// Reports (`--junit`, `--json`) that could not be rendered or written.
    pub reports_unwritten: usize,
}

impl RunStats {
    /// The statistics of `events`, every report written so far.
    pub fn of(events: &[Event]) -> Self {
        Self {
            counts: report::counts(events),
            reports_unwritten: 0,
        }
    }

    /// Records a report that could not be rendered or written.
    pub fn report_unwritten(&mut self) {
        self.reports_unwritten += 1;
    }

    /// 1 when a trial failed; else 2 when a report could not be written;
    /// else 3 when a trial errored; else 0. Known failures, flaky passes
    /// and skips never fail a run.
    pub const fn exit(&self) -> Exit {
        if self.counts.failed > 0 {
            Exit::Failure
        } else if self.reports_unwritten > 0 {
            Exit::Usage
        } else if self.counts.errors > 0 {
            Exit::Infrastructure
        } else {
            Exit::Success
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(failed: usize, errors: usize, unwritten: usize) -> RunStats {
        RunStats {
            counts: Counts {
                total: 10,
                passed: 10 - failed - errors,
                failed,
                errors,
                ..Counts::default()
            },
            reports_unwritten: unwritten,
        }
    }

    #[test]
    fn a_clean_run_succeeds() {
        assert_eq!(stats(0, 0, 0).exit(), Exit::Success);
        assert_eq!(RunStats::default().exit(), Exit::Success);
    }

    #[test]
    fn known_failures_flaky_passes_and_skips_do_not_fail_a_run() {
        let counts = Counts {
            total: 4,
            passed: 1,
            flaky: 1,
            known_failures: 1,
            skipped: 1,
            ..Counts::default()
        };
        let stats = RunStats {
            counts,
            reports_unwritten: 0,
        };
        assert_eq!(stats.exit(), Exit::Success);
    }

    #[test]
    fn a_failure_outranks_everything() {
        assert_eq!(stats(1, 0, 0).exit(), Exit::Failure);
        assert_eq!(stats(1, 1, 0).exit(), Exit::Failure);
        assert_eq!(stats(1, 1, 1).exit(), Exit::Failure);
    }

    #[test]
    fn an_unwritten_report_outranks_an_error() {
        assert_eq!(stats(0, 1, 1).exit(), Exit::Usage);
        assert_eq!(stats(0, 0, 1).exit(), Exit::Usage);
    }

    #[test]
    fn an_error_alone_is_infrastructure() {
        assert_eq!(stats(0, 1, 0).exit(), Exit::Infrastructure);
    }

    #[test]
    fn unwritten_reports_are_counted() {
        let mut stats = RunStats::default();
        stats.report_unwritten();
        assert_eq!(stats.reports_unwritten, 1);
        assert_eq!(stats.exit(), Exit::Usage);
    }
}
