//! Reading a suite file: the raw YAML shapes, then one typed [`Case`] per
//! case with its check's params parsed strictly; every error names file,
//! line and column.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{
    Case, Check, CheckKind, ConfigError, FixtureKind, Status, Suite, TargetKind, Via, locate_from,
};
use super::{DeterminismParams, EnvelopeParams, HttpStatusParams, WsCloseParams};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    version: u32,
    suite: String,
    description: String,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    description: String,
    check: CheckKind,
    fixtures: RawFixtures,
    #[serde(default)]
    max_fixtures: Option<usize>,
    #[serde(default)]
    targets: Option<Vec<TargetKind>>,
    transports: Vec<Via>,
    #[serde(default)]
    golden: bool,
    #[serde(default)]
    params: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFixtures {
    None(NoneWord),
    Kinds(OneOrMany<FixtureKind>),
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum NoneWord {
    None,
}

/// Whether `s` is `[a-z0-9_]+` (`-` too when `dash`).
pub(crate) fn is_name(s: &str, dash: bool) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || (dash && b == b'-')
        })
}

/// The placeholders a body or frame template may carry.
const PLACEHOLDERS: [&str; 5] = [
    "{request}",
    "{inputs}",
    "{execution_id}",
    "{prefix}",
    "{run_open}",
];

/// Whether a template uses a placeholder that needs a fixture.
fn needs_fixture(template: &str) -> bool {
    ["{request}", "{inputs}", "{run_open}"]
        .iter()
        .any(|p| template.contains(p))
}

/// The first `{...}` in `template` that is not a known placeholder.
fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        match PLACEHOLDERS.iter().find(|p| tail.starts_with(*p)) {
            Some(p) => rest = &tail[p.len()..],
            None => {
                let word: String = tail
                    .chars()
                    .skip(1)
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !word.is_empty() && tail[1 + word.len()..].starts_with('}') {
                    return Some(format!("{{{word}}}"));
                }
                rest = &tail[1..];
            }
        }
    }
    None
}

impl Suite {
    /// Parses suite text; `stem` is the name the lanes file knows it by.
    pub fn parse(text: &str, origin: &str, stem: &str) -> Result<Self, ConfigError> {
        let raw: RawSuite = crate::config_file::from_yaml(text, origin, |r: &RawSuite| r.version)?;
        let invalid =
            |needle: &str, message: String| ConfigError::at(origin, text, needle, message);
        if raw.suite != stem {
            return Err(invalid(
                "suite",
                format!(
                    "suite {:?} must be named after its file ({stem:?})",
                    raw.suite
                ),
            ));
        }
        let mut names = BTreeSet::new();
        let mut cases = Vec::with_capacity(raw.cases.len());
        for raw_case in raw.cases {
            let anchor = format!("name: {}", raw_case.name);
            let case_at = text.find(&anchor).unwrap_or(0);
            let case_name = raw_case.name.clone();
            let at = |needle: &str, message: String| {
                let (line, column) = locate_from(text, needle, case_at);
                ConfigError::Invalid {
                    origin: origin.to_owned(),
                    line,
                    column,
                    message: format!("case {case_name}: {message}"),
                }
            };
            if !is_name(&raw_case.name, false) {
                return Err(at(
                    "name",
                    "a case name is lowercase letters, digits and `_`".to_owned(),
                ));
            }
            if !names.insert(raw_case.name.clone()) {
                return Err(at("name", "the name is used twice".to_owned()));
            }
            let case = resolve_case(raw_case, &at)?;
            cases.push(case);
        }
        Ok(Self {
            name: raw.suite,
            origin: origin.to_owned(),
            digest: super::super::certificate::sha256(text.as_bytes()),
            description: raw.description,
            cases,
        })
    }
}

fn resolve_case(
    raw: RawCase,
    at: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Case, ConfigError> {
    let kind = raw.check;
    let fixtures = match raw.fixtures {
        RawFixtures::None(NoneWord::None) => Vec::new(),
        RawFixtures::Kinds(kinds) => {
            let mut kinds = kinds.into_vec();
            kinds.dedup();
            kinds
        }
    };
    if kind.needs_fixtures() && fixtures.is_empty() {
        return Err(at(
            "fixtures",
            format!("check {kind} needs inputs: name a fixture kind (valid, invalid, crash)"),
        ));
    }
    if raw.max_fixtures == Some(0) {
        return Err(at(
            "max_fixtures",
            "max_fixtures must be at least 1".to_owned(),
        ));
    }
    let targets = raw
        .targets
        .unwrap_or_else(|| kind.allowed_targets().to_vec());
    if targets.is_empty() {
        return Err(at("targets", "name at least one target".to_owned()));
    }
    if let Some(bad) = targets.iter().find(|t| !kind.allowed_targets().contains(t)) {
        return Err(at(
            "targets",
            format!("check {kind} does not apply to the {bad} target"),
        ));
    }
    let mut vias = raw.transports;
    vias.sort();
    vias.dedup();
    if vias.is_empty() {
        return Err(at("transports", "name at least one transport".to_owned()));
    }
    if let Some(bad) = vias.iter().find(|v| !kind.allowed_vias().contains(v)) {
        let allowed: Vec<&str> = kind.allowed_vias().iter().map(|v| v.as_str()).collect();
        return Err(at(
            "transports",
            format!(
                "check {kind} does not apply to transport {bad} (allowed: {})",
                allowed.join(", ")
            ),
        ));
    }
    if raw.golden && !kind.can_golden() {
        return Err(at(
            "golden",
            format!("check {kind} has no envelope to compare with a golden"),
        ));
    }
    let check = parse_params(kind, raw.params, &fixtures, at)?;
    Ok(Case {
        name: raw.name,
        description: raw.description,
        check,
        fixtures,
        max_fixtures: raw.max_fixtures,
        targets,
        vias,
        golden: raw.golden,
    })
}

fn parse_params(
    kind: CheckKind,
    params: Option<serde_yaml_ng::Value>,
    fixtures: &[FixtureKind],
    at: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Check, ConfigError> {
    fn typed<T: serde::de::DeserializeOwned>(
        kind: CheckKind,
        params: Option<serde_yaml_ng::Value>,
        at: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<T, ConfigError> {
        let Some(params) = params else {
            return Err(at("check", format!("check {kind} needs `params`")));
        };
        serde_yaml_ng::from_value(params).map_err(|e| at("params", format!("params: {e}")))
    }
    let none = |params: Option<serde_yaml_ng::Value>, check: Check| match params {
        None | Some(serde_yaml_ng::Value::Null) => Ok(check),
        Some(_) => Err(at("params", format!("check {kind} takes no params"))),
    };
    let check = match kind {
        CheckKind::Envelope => {
            let p: EnvelopeParams = typed(kind, params, at)?;
            match (p.expect_status, p.expect_code) {
                (Status::Success, Some(_)) => {
                    return Err(at(
                        "expect_code",
                        "expect_code needs expect_status: error".to_owned(),
                    ));
                }
                (Status::Error, None) => {
                    return Err(at(
                        "expect_status",
                        "expect_status: error needs expect_code".to_owned(),
                    ));
                }
                (Status::Success, None) | (Status::Error, Some(_)) => {}
            }
            Check::Envelope(p)
        }
        CheckKind::HttpStatus => {
            let p: HttpStatusParams = typed(kind, params, at)?;
            check_sends(
                p.sends.iter().map(|s| (s.label.as_str(), s.body.as_str())),
                fixtures,
                at,
            )?;
            if let Some(bad) = p
                .expect_execution_id
                .as_deref()
                .and_then(unknown_placeholder)
            {
                return Err(at(
                    &bad,
                    format!("expect_execution_id: unknown placeholder {bad}"),
                ));
            }
            Check::HttpStatus(p)
        }
        CheckKind::WsClose => {
            let p: WsCloseParams = typed(kind, params, at)?;
            check_sends(
                p.sends.iter().map(|s| (s.label.as_str(), s.text.as_str())),
                fixtures,
                at,
            )?;
            Check::WsClose(p)
        }
        CheckKind::NegativeEndpoint => Check::NegativeEndpoint(typed(kind, params, at)?),
        CheckKind::Determinism => {
            let p: DeterminismParams = typed(kind, params, at)?;
            // CONTRACT.md §12: any two runs agree, not only the first two.
            if !(3..=10).contains(&p.runs) {
                return Err(at(
                    "runs:",
                    "runs must be from 3 to 10 (CONTRACT.md §12: any two runs, so at least three)"
                        .to_owned(),
                ));
            }
            Check::Determinism(p)
        }
        CheckKind::Artifacts => none(params, Check::Artifacts)?,
        CheckKind::WsSequence => none(params, Check::WsSequence)?,
        CheckKind::WsSubprotocol => none(params, Check::WsSubprotocol)?,
        CheckKind::SseSequence => none(params, Check::SseSequence)?,
        CheckKind::Health => none(params, Check::Health)?,
        CheckKind::RunBudget => none(params, Check::RunBudget)?,
        CheckKind::ParityTransports => none(params, Check::ParityTransports)?,
        CheckKind::ParityTargets => none(params, Check::ParityTargets)?,
        CheckKind::NegativeImage => none(params, Check::NegativeImage)?,
        CheckKind::Digest => none(params, Check::Digest)?,
        CheckKind::ContainerWrites => none(params, Check::ContainerWrites)?,
    };
    Ok(check)
}

fn check_sends<'a>(
    sends: impl Iterator<Item = (&'a str, &'a str)>,
    fixtures: &[FixtureKind],
    at: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let mut labels = BTreeSet::new();
    let mut any = false;
    for (label, template) in sends {
        any = true;
        if !is_name(label, true) {
            return Err(at(
                label,
                format!("label {label:?} is lowercase letters, digits, `_` and `-`"),
            ));
        }
        if !labels.insert(label) {
            return Err(at(label, format!("label {label:?} is used twice")));
        }
        if let Some(bad) = unknown_placeholder(template) {
            return Err(at(&bad, format!("{label}: unknown placeholder {bad}")));
        }
        if needs_fixture(template) && fixtures.is_empty() {
            return Err(at(
                label,
                format!("{label}: the template needs a fixture, but the case names none"),
            ));
        }
    }
    if any {
        Ok(())
    } else {
        Err(at(
            "sends",
            "sends must list at least one request".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn err(text: &str) -> String {
        Suite::parse(text, "s.yaml", "s").unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_and_checks_name_their_position() {
        let text = "version: 1\nsuite: s\ndescription: d\ncases:\n  - name: a\n    description: d\n    check: nope\n    fixtures: none\n    transports: [ws]\n";
        assert!(err(text).starts_with("s.yaml:7:12: "), "{}", err(text));
        let text = "version: 1\nsuite: s\ndescription: d\nextra: 1\ncases: []\n";
        assert!(err(text).starts_with("s.yaml:4:1: "), "{}", err(text));
    }

    #[test]
    fn params_are_typed_per_check() {
        let text = "version: 1\nsuite: s\ndescription: d\ncases:\n  - name: a\n    description: d\n    check: ws_close\n    fixtures: none\n    transports: [ws]\n    params:\n      expect_close: 1002\n      colour: red\n      sends: []\n";
        let e = err(text);
        assert!(
            e.starts_with("s.yaml:10:5: case a: params: unknown field `colour`"),
            "{e}"
        );
    }

    #[test]
    fn transports_and_fixtures_are_checked_against_the_check() {
        let text = "version: 1\nsuite: s\ndescription: d\ncases:\n  - name: a\n    description: d\n    check: ws_sequence\n    fixtures: valid\n    transports: [http]\n";
        assert!(err(text).contains("does not apply to transport http"));
        let text = "version: 1\nsuite: s\ndescription: d\ncases:\n  - name: a\n    description: d\n    check: envelope\n    fixtures: none\n    transports: [ws]\n    params: {expect_status: success}\n";
        assert!(err(text).contains("needs inputs"));
    }

    #[test]
    fn templates_know_their_placeholders() {
        assert_eq!(unknown_placeholder("{request} {prefix}x"), None);
        assert_eq!(unknown_placeholder("{\"a\":1}"), None);
        assert_eq!(unknown_placeholder("{\"p\":{}}"), None);
        assert_eq!(unknown_placeholder("{nope}"), Some("{nope}".to_owned()));
    }

    #[test]
    fn the_shipped_suites_load() {
        for (stem, text) in crate::conform::lanes::EMBEDDED_SUITES {
            Suite::parse(text, stem, stem).unwrap();
        }
    }
}
