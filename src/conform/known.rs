//! Known failures and known flaky trials (`--known-failures FILE`,
//! `--known-flaky FILE`): lists of trial-name globs, each with a reason
//! and an optional expiry date (docs/known-failures.md).
//!
//! ```yaml
//! version: 1
//! entries:
//!   - trial: "contract::envelope::theory/reference@0.1.0::url::*"
//!     reason: "outputs are unsorted upstream (issue 123)"
//!     expires: 2026-01-31
//! ```
//!
//! A list cannot rot: an entry that matches no trial of the lane, or whose
//! expiry date has passed, becomes a failing pseudo-trial
//! (`known_failures::stale::<glob>`, `known_failures::expired::<glob>`,
//! and the same under `known_flaky::`), and a known failure that passes
//! fails by name.
//!
//! **Invariant:** no IO beyond reading the one file; matching is a pure
//! function of the glob and the trial name.

use std::path::Path;

use serde::Deserialize;

use super::suite::{ConfigError, locate_from};

/// Which list a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `--known-failures`: a matching trial that fails does not fail the lane.
    Failures,
    /// `--known-flaky`: a matching trial that fails is retried.
    Flaky,
}

impl ListKind {
    /// The pseudo-trials' prefix and suite: `known_failures` or `known_flaky`.
    pub const fn suite(self) -> &'static str {
        match self {
            Self::Failures => "known_failures",
            Self::Flaky => "known_flaky",
        }
    }
}

/// A calendar date (UTC), compared as `(year, month, day)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: u32,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD` (a real calendar day).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a date of the form YYYY-MM-DD");
        let bytes = text.as_bytes();
        if bytes.len() != 10
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || !bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| {
            text.get(range)
                .and_then(|s| s.parse::<u32>().ok())
                .ok_or_else(bad)
        };
        let date = Self {
            year: number(0..4)?,
            month: number(5..7)?,
            day: number(8..10)?,
        };
        let leap = date.year.is_multiple_of(4)
            && (!date.year.is_multiple_of(100) || date.year.is_multiple_of(400));
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if date.day == 0 || date.day > days {
            return Err(bad());
        }
        Ok(date)
    }

    /// Today (UTC) from the system clock.
    pub fn today() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::from_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: u32::try_from(year).unwrap_or(0),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A glob over trial names: `*` is any run of characters (`::` and `/`
/// included), `?` exactly one; everything else is literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `name` matches the whole glob.
    pub fn matches(&self, name: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let text: Vec<char> = name.chars().collect();
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                Some(_) | None => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|c| *c == '*')
    }
}

/// One entry of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The trials it names.
    pub trial: Glob,
    /// Why they are listed.
    pub reason: String,
    /// The last day the entry holds.
    pub expires: Option<Date>,
    /// `FILE:LINE:COLUMN` of the entry's `trial`.
    pub at: String,
}

/// A loaded list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownList {
    /// Which list.
    pub kind: ListKind,
    /// The file, as given.
    pub origin: String,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    version: u32,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    trial: String,
    reason: String,
    expires: Option<String>,
}

/// A pseudo-trial a list adds: an entry that is stale or expired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `known_failures::stale::<glob>` and the like.
    pub name: String,
    /// The list's suite (`known_failures` or `known_flaky`).
    pub suite: &'static str,
    /// The failure message.
    pub message: String,
}

impl KnownList {
    /// Reads and validates a list.
    pub fn load(path: &Path, kind: ListKind) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &origin, kind)
    }

    /// Parses a list's text; errors carry `origin:line:column`.
    pub fn parse(text: &str, origin: &str, kind: ListKind) -> Result<Self, ConfigError> {
        let raw: RawList = crate::config_file::from_yaml(text, origin, |r: &RawList| r.version)?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut from = 0;
        for raw in raw.entries {
            // Entries are located in file order: each one's `trial:` key
            // after the previous one's, then its value after the key.
            let find = |needle: &str, at: usize| {
                text.get(at..)
                    .and_then(|rest| rest.find(needle))
                    .map_or(at, |found| at + found)
            };
            let key = find("trial:", from) + "trial:".len();
            let (line, column) = locate_from(text, &raw.trial, key);
            // A quoted value starts at its quote.
            let quoted = text
                .get(key..find(&raw.trial, key))
                .is_some_and(|gap| gap.ends_with(['\'', '"']));
            let column = if quoted { column - 1 } else { column };
            from = find(&raw.trial, key) + raw.trial.len().max(1);
            let invalid = |message: String| ConfigError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                message,
            };
            if raw.trial.trim().is_empty() {
                return Err(invalid("`trial` is empty".to_owned()));
            }
            if raw.reason.trim().is_empty() {
                return Err(invalid(format!(
                    "{}: `reason` is empty; say why the trial is listed",
                    raw.trial
                )));
            }
            let expires = raw
                .expires
                .as_deref()
                .map(|value| {
                    Date::parse(value).map_err(|e| {
                        let (line, column) =
                            crate::config_file::locate_path(text, key, &["expires:", value]);
                        ConfigError::Invalid {
                            origin: origin.to_owned(),
                            line,
                            column,
                            message: format!("{}: expires: {e}", raw.trial),
                        }
                    })
                })
                .transpose()?;
            if entries.iter().any(|e| e.trial.as_str() == raw.trial) {
                return Err(invalid(format!("{}: listed twice", raw.trial)));
            }
            entries.push(Entry {
                trial: Glob(raw.trial),
                reason: raw.reason.trim().to_owned(),
                expires,
                at: format!("{origin}:{line}:{column}"),
            });
        }
        Ok(Self {
            kind,
            origin: origin.to_owned(),
            entries,
        })
    }

    /// The first entry naming `trial`.
    pub fn find(&self, trial: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.trial.matches(trial))
    }

    /// The stale and expired entries, given every trial name of the lane
    /// and today's date.
    pub fn problems(&self, lane_trials: &[&str], today: Date) -> Vec<Problem> {
        let suite = self.kind.suite();
        let mut out = Vec::new();
        for entry in &self.entries {
            let glob = entry.trial.as_str();
            if let Some(expires) = entry.expires.filter(|e| *e < today) {
                out.push(Problem {
                    name: format!("{suite}::expired::{glob}"),
                    suite,
                    message: format!(
                        "entry `{glob}` ({}) expired on {expires} (today is {today}): fix the trial, or renew the entry with a reason",
                        entry.at
                    ),
                });
            }
            if !lane_trials.iter().any(|t| entry.trial.matches(t)) {
                out.push(Problem {
                    name: format!("{suite}::stale::{glob}"),
                    suite,
                    message: format!(
                        "entry `{glob}` ({}) matches no trial of this lane: remove it from {}",
                        entry.at, self.origin
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(g: &str) -> Glob {
        Glob(g.to_owned())
    }

    #[test]
    fn globs_match_whole_names_with_star_and_question_mark() {
        let name = "contract::envelope::theory/reference@0.1.0::url::ws";
        assert!(glob("contract::envelope::*::url::*").matches(name));
        assert!(glob("*").matches(name));
        assert!(glob("contract::*::w?").matches(name));
        assert!(glob(name).matches(name));
        assert!(!glob("contract::envelope").matches(name));
        assert!(!glob("*::http").matches(name));
        assert!(!glob("contract::*::w??").matches(name));
        assert!(glob("a*b*c").matches("aXbYbZc"));
        assert!(!glob("a*b*c").matches("aXbYbZ"));
    }

    #[test]
    fn dates_parse_strictly_and_compare_by_day() {
        assert!(Date::parse("2024-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "20240101",
            "2024-01-00",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let a = Date::parse("2024-12-31").expect("date");
        let b = Date::parse("2025-01-01").expect("date");
        assert!(a < b);
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
    }

    #[test]
    fn list_errors_carry_file_line_and_column() {
        let err = |text: &str| {
            KnownList::parse(text, "k.yaml", ListKind::Failures)
                .expect_err("invalid")
                .to_string()
        };
        let e = err(
            "version: 1\nentries:\n  - trial: a\n    reason: r\n  - trial: b\n    reason: ' '\n",
        );
        assert!(e.starts_with("k.yaml:5:12: b: `reason` is empty"), "{e}");
        let e = err("version: 1\nentries:\n  - trial: a\n    reason: r\n    expires: 2024-02-30\n");
        assert!(e.starts_with("k.yaml:5:14: a: expires:"), "{e}");
        let e = err("version: 1\nentries:\n  - trial: a\n    reason: r\n    colour: red\n");
        assert!(e.starts_with("k.yaml:5:5: "), "{e}");
        let e =
            err("version: 1\nentries:\n  - trial: a\n    reason: r\n  - trial: a\n    reason: s\n");
        assert!(e.starts_with("k.yaml:5:12: a: listed twice"), "{e}");
    }

    #[test]
    fn stale_and_expired_entries_are_problems() {
        let list = KnownList::parse(
            "version: 1\nentries:\n  - trial: 'x::*'\n    reason: r\n    expires: 2024-01-01\n  - trial: 'y::*'\n    reason: r\n",
            "k.yaml",
            ListKind::Failures,
        )
        .expect("valid");
        let today = Date::parse("2024-01-02").expect("date");
        let names: Vec<String> = list
            .problems(&["x::a"], today)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "known_failures::expired::x::*",
                "known_failures::stale::y::*"
            ]
        );
        let on_the_day = Date::parse("2024-01-01").expect("date");
        assert_eq!(list.problems(&["x::a", "y::b"], on_the_day), []);
    }
}
