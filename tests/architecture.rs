//! The invariants ARCHITECTURE.md states about the code's shape, checked on
//! the source files: dependency direction, one home for the environment,
//! one definition of each shared constant, one UTF-8 cut, one readiness
//! wait, one classification of adapter failures, and no file over 600
//! lines under `src/`.
//!
//! A rule may list files that still break it and are being moved off it
//! ([`Rule::pending`]); such an entry fails as soon as the file no longer
//! breaks the rule, so the list only shrinks.

mod support;

use std::path::{Path, PathBuf};

/// One invariant: files (under `roots`) that may not contain any of
/// `needles` outside their `#[cfg(test)]` section, except `home`. A needle
/// starting with `^` matches at the start of a line, after indentation.
struct Rule {
    name: &'static str,
    roots: &'static [&'static str],
    needles: &'static [&'static str],
    home: &'static [&'static str],
    pending: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        name: "the vocabulary is a leaf",
        roots: &["src/vocab.rs"],
        needles: &["crate::"],
        home: &[],
        pending: &[],
    },
    Rule {
        name: "the registry knows nothing of adapters, the runner or the run planner",
        roots: &["src/registry.rs", "src/registry/"],
        needles: &[
            "crate::adapter",
            "crate::conform",
            "crate::orchestrator",
            "crate::plan",
        ],
        home: &[],
        pending: &[],
    },
    Rule {
        name: "suites and lanes are configuration: no adapter import",
        roots: &["src/conform/suite/", "src/conform/lanes.rs"],
        needles: &["crate::adapter"],
        home: &[],
        pending: &[],
    },
    Rule {
        name: "checks do not call the run command's resolver",
        roots: &["src/conform/"],
        needles: &["build_target"],
        home: &["src/conform/plan.rs"],
        pending: &[],
    },
    Rule {
        name: "environment variables are read only in src/environment.rs",
        roots: &["src/"],
        needles: &["env::var", "env::vars", "env::temp_dir"],
        home: &["src/environment.rs"],
        pending: &[],
    },
    Rule {
        name: "one target-kind type (vocab::TargetKind)",
        roots: &["src/"],
        needles: &["enum TargetKind", "enum TargetName"],
        home: &["src/vocab.rs"],
        pending: &[],
    },
    Rule {
        name: "one transport type (vocab::Transport)",
        roots: &["src/"],
        needles: &["enum Transport"],
        home: &["src/vocab.rs"],
        pending: &[],
    },
    Rule {
        name: "DEFAULT_PORT is defined once",
        roots: &["src/"],
        needles: &["const DEFAULT_PORT"],
        home: &["src/vocab.rs"],
        pending: &[],
    },
    Rule {
        name: "SWEEP_BUDGET is defined once",
        roots: &["src/"],
        needles: &["const SWEEP_BUDGET"],
        home: &["src/adapter/local.rs"],
        pending: &[],
    },
    Rule {
        name: "text is cut at a UTF-8 boundary in one place",
        roots: &[
            "src/",
            "crates/contract/src/",
            "fixtures/reference-processor/src/",
        ],
        needles: &["is_char_boundary"],
        home: &["crates/contract/src/text.rs"],
        pending: &[],
    },
    Rule {
        name: "a processor's listening line is awaited by one helper",
        roots: &[
            "src/",
            "tests/",
            "fixtures/reference-processor/tests/",
            "ci/",
        ],
        needles: &[
            "== \"listening\"",
            "Some(\"listening\")",
            "\"event\":\"listening\"",
        ],
        home: &["src/readiness.rs"],
        pending: &[],
    },
    Rule {
        name: "adapter failures are classified only beside AdapterError::code",
        roots: &["src/"],
        // An or-pattern arm listing variants (`^` anchors a needle at a
        // line's start, after indentation).
        needles: &["^| AdapterError::"],
        home: &["src/adapter/error.rs"],
        pending: &[],
    },
    Rule {
        name: "registries in tests are typed documents, not formatted text",
        roots: &["tests/"],
        needles: &["processors:\\n"],
        // The loader's own tests and the bad-input corpus feed it
        // hand-written (bad) text on purpose.
        home: &["tests/registry.rs", "tests/bad_input.rs"],
        pending: &[],
    },
];

/// Files over this many lines are refused under `src/`.
const MAX_LINES: usize = 600;
/// Files under `src/` still over [`MAX_LINES`], being split.
const PENDING_LONG: &[&str] = &[];

/// Every file under `root` (a file or a folder ending in `/`), sorted.
fn files(root: &str) -> Vec<String> {
    let base = support::root();
    let mut out = Vec::new();
    let mut stack = vec![base.join(root)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir").flatten() {
                stack.push(entry.path());
            }
        } else if path.is_file() {
            out.push(relative(&base, &path));
        }
    }
    out.sort();
    out
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The file's text before its `#[cfg(test)]` section (the tests' own
/// code may do what the product may not).
fn product_text(relative: &str) -> String {
    let path: PathBuf = support::root().join(relative);
    let text = std::fs::read(&path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text).into_owned();
    match text.find("#[cfg(test)]") {
        Some(cut)
            if relative.starts_with("src/")
                || relative.starts_with("crates/")
                || relative.starts_with("fixtures/reference-processor/src/") =>
        {
            text[..cut].to_owned()
        }
        Some(_) | None => text,
    }
}

fn breaks(rule: &Rule, file: &str) -> bool {
    if file.starts_with("tests/architecture.rs") {
        return false;
    }
    let text = product_text(file);
    rule.needles
        .iter()
        .any(|needle| match needle.strip_prefix('^') {
            Some(start) => text
                .lines()
                .any(|line| line.trim_start().starts_with(start)),
            None => text.contains(needle),
        })
}

fn offenders(rule: &Rule) -> Vec<String> {
    rule.roots
        .iter()
        .flat_map(|root| files(root))
        .filter(|file| !rule.home.contains(&file.as_str()))
        .filter(|file| breaks(rule, file))
        .collect()
}

#[test]
fn every_rule_holds_outside_its_home_and_its_pending_files() {
    let mut problems = Vec::new();
    for rule in RULES {
        for file in offenders(rule) {
            if !rule.pending.contains(&file.as_str()) {
                problems.push(format!("{}: {file} breaks it", rule.name));
            }
        }
        for pending in rule.pending {
            if !breaks(rule, pending) {
                problems.push(format!(
                    "{}: {pending} no longer breaks it; remove it from `pending`",
                    rule.name
                ));
            }
        }
        for home in rule.home {
            assert!(
                support::root().join(home).is_file(),
                "{}: home {home} is missing",
                rule.name
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_rule_catches_what_it_names() {
    // The checker itself: a file that holds a needle is an offender.
    let rule = Rule {
        name: "test",
        roots: &["src/environment.rs"],
        needles: &["env::vars_os"],
        home: &[],
        pending: &[],
    };
    assert_eq!(offenders(&rule), ["src/environment.rs"]);
    let homed = Rule {
        home: &["src/environment.rs"],
        ..rule
    };
    assert!(offenders(&homed).is_empty());
    let anchored = Rule {
        needles: &["^pub struct Environment", "^struct Environment"],
        ..rule
    };
    assert_eq!(offenders(&anchored), ["src/environment.rs"]);
    let mid_line = Rule {
        needles: &["^Environment {"],
        ..rule
    };
    assert!(offenders(&mid_line).is_empty());
}

#[test]
fn no_file_under_src_is_over_600_lines() {
    let mut problems = Vec::new();
    for file in files("src/") {
        let lines = std::fs::read_to_string(support::root().join(&file))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let pending = PENDING_LONG.contains(&file.as_str());
        if lines > MAX_LINES && !pending {
            problems.push(format!("{file} has {lines} lines (at most {MAX_LINES})"));
        }
        if lines <= MAX_LINES && pending {
            problems.push(format!(
                "{file} has {lines} lines; remove it from PENDING_LONG"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
