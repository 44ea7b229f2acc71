//! Lanes (`ci/lanes.yaml`): which suites, targets and transports a CI lane
//! runs, and how strict it is.
//!
//! The default lanes file and the four suites are embedded in the binary
//! (`include_str!`); `--lanes FILE` replaces them, and its `suites_dir`
//! (relative to the file) names the folder its suites are read from.
//!
//! **Invariant:** a [`Lanes`] that loaded is valid and every suite it names
//! loaded with it; errors name file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::suite::{ConfigError, FixtureKind, Suite, Via};
use crate::registry::TagPolicy;
use crate::vocab::TargetKind;

/// The embedded lanes file.
pub const EMBEDDED_LANES: &str = include_str!("../../ci/lanes.yaml");
/// The name messages use for it.
pub const EMBEDDED_LANES_NAME: &str = "<embedded ci/lanes.yaml>";

/// The embedded suites, by name.
pub const EMBEDDED_SUITES: [(&str, &str); 4] = [
    ("contract", include_str!("../../suites/contract.yaml")),
    ("determinism", include_str!("../../suites/determinism.yaml")),
    ("parity", include_str!("../../suites/parity.yaml")),
    (
        "supply_chain",
        include_str!("../../suites/supply_chain.yaml"),
    ),
];

/// One lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// Its name, e.g. `staging`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The suites it runs, in order.
    pub suites: Vec<String>,
    /// The targets it runs on.
    pub targets: Vec<TargetKind>,
    /// The transports it talks.
    pub transports: Vec<Via>,
    /// Whether image tags are accepted (only the dev lane).
    pub tags: TagPolicy,
    /// Whether every processor must declare `expected_oci`.
    pub require_expected_oci: bool,
    /// Whether a known-failures list may be given (issue 9).
    pub allow_known_failures: bool,
    /// What a certification by this lane must have seen (none: lenient).
    pub evidence: Option<Evidence>,
}

/// What a lane's certification must have seen of each processor; what is
/// missing fails its `certification::evidence::<processor>` trial.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// At least one fixture of each of these kinds.
    pub fixtures: Vec<FixtureKind>,
    /// Transports every case must be planned on (each a lane transport).
    pub transports: Vec<Via>,
    /// Targets every case must be planned on (each a lane target).
    pub targets: Vec<TargetKind>,
}

impl Lane {
    /// What this lane drops or relaxes of `reference`: a suite, target or
    /// transport it lacks, tags it accepts, `expected_oci` or known failures
    /// it no longer requires or refuses. Empty when it is at least as strict.
    pub fn weakenings(&self, reference: &Self) -> Vec<String> {
        let mut out = Vec::new();
        for suite in reference.suites.iter().filter(|s| !self.suites.contains(s)) {
            out.push(format!("suite {suite} is missing"));
        }
        for target in reference
            .targets
            .iter()
            .filter(|t| !self.targets.contains(t))
        {
            out.push(format!("target {} is missing", target.as_str()));
        }
        for via in reference
            .transports
            .iter()
            .filter(|v| !self.transports.contains(v))
        {
            out.push(format!("transport {} is missing", via.as_str()));
        }
        if self.tags == TagPolicy::AllowTags && reference.tags == TagPolicy::RequireDigest {
            out.push("tags: allow (image tags accepted)".to_owned());
        }
        if reference.require_expected_oci && !self.require_expected_oci {
            out.push("require_expected_oci: false".to_owned());
        }
        if !reference.allow_known_failures && self.allow_known_failures {
            out.push("allow_known_failures: true".to_owned());
        }
        if let Some(wanted) = &reference.evidence {
            match &self.evidence {
                None => out.push("evidence is missing".to_owned()),
                Some(own) => {
                    lacks(&mut out, "fixtures", &wanted.fixtures, &own.fixtures, |k| {
                        k.as_str()
                    });
                    lacks(
                        &mut out,
                        "transports",
                        &wanted.transports,
                        &own.transports,
                        |v| v.as_str(),
                    );
                    lacks(&mut out, "targets", &wanted.targets, &own.targets, |t| {
                        t.as_str()
                    });
                }
            }
        }
        out
    }
}

/// `evidence.<what> lacks <item>` for each of `wanted` not in `own`.
fn lacks<T: PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    wanted: &[T],
    own: &[T],
    name: fn(&T) -> &'static str,
) {
    for item in wanted.iter().filter(|item| !own.contains(item)) {
        out.push(format!("evidence.{what} lacks {}", name(item)));
    }
}

/// A loaded lanes file and its suites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lanes {
    /// Where it came from.
    pub origin: String,
    /// The SHA-256 of its text (`sha256:<hex>`), for certificates.
    pub digest: String,
    /// The lanes by name.
    pub lanes: BTreeMap<String, Lane>,
    /// Every suite a lane names, by name.
    pub suites: BTreeMap<String, Suite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLanes {
    version: u32,
    suites_dir: PathBuf,
    lanes: BTreeMap<String, RawLane>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawTags {
    Allow,
    RequireDigest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    description: String,
    suites: Vec<String>,
    targets: Vec<TargetKind>,
    transports: Vec<Via>,
    tags: RawTags,
    require_expected_oci: bool,
    allow_known_failures: bool,
    #[serde(default)]
    evidence: Option<Evidence>,
}

/// Where suite texts come from.
enum SuiteSource<'a> {
    Embedded,
    Dir(&'a Path),
}

impl Lanes {
    /// The embedded lanes and suites.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_LANES, EMBEDDED_LANES_NAME, &SuiteSource::Embedded)
    }

    /// Lanes text whose suites are the embedded ones (the fuzz target's seam).
    pub fn parse_with_embedded_suites(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::parse(text, origin, &SuiteSource::Embedded)
    }

    /// A lanes file; its suites come from its `suites_dir`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, &origin, &SuiteSource::Dir(base))
    }

    fn parse(text: &str, origin: &str, source: &SuiteSource<'_>) -> Result<Self, ConfigError> {
        let raw: RawLanes = crate::config_file::from_yaml(text, origin, |r: &RawLanes| r.version)?;
        let invalid =
            |needle: &str, message: String| ConfigError::at(origin, text, needle, message);
        let mut lanes = BTreeMap::new();
        let mut suites = BTreeMap::new();
        for (name, lane) in raw.lanes {
            if !super::suite::is_name(&name, true) {
                return Err(invalid(
                    &name,
                    format!("lane {name:?}: a lane name is lowercase letters, digits, `_` and `-`"),
                ));
            }
            let lane_at = text.find(&format!("{name}:")).unwrap_or(0);
            let at = |needle: &str, message: String| {
                let (line, column) = super::suite::locate_from(text, needle, lane_at);
                ConfigError::Invalid {
                    origin: origin.to_owned(),
                    line,
                    column,
                    message: format!("lane {name}: {message}"),
                }
            };
            for (field, empty) in [
                ("suites", lane.suites.is_empty()),
                ("targets", lane.targets.is_empty()),
                ("transports", lane.transports.is_empty()),
            ] {
                if empty {
                    return Err(at(field, format!("{field} must not be empty")));
                }
            }
            if lane.transports.contains(&Via::None) {
                return Err(at(
                    "transports",
                    "`none` is for cases, not lanes; list ws, http or sse".to_owned(),
                ));
            }
            for (i, suite) in lane.suites.iter().enumerate() {
                if lane.suites[..i].contains(suite) {
                    // The second mention: after the `suites:` key and the first.
                    let suites_at = text[lane_at..]
                        .find("suites:")
                        .map_or(lane_at, |at| lane_at + at);
                    let first = text[suites_at..]
                        .find(suite.as_str())
                        .map_or(suites_at, |at| suites_at + at + suite.len());
                    let (line, column) = super::suite::locate_from(text, suite, first);
                    return Err(ConfigError::Invalid {
                        origin: origin.to_owned(),
                        line,
                        column,
                        message: format!("lane {name}: suite {suite} is listed twice"),
                    });
                }
                if suites.contains_key(suite) {
                    continue;
                }
                let loaded = load_suite(suite, &raw.suites_dir, source).map_err(|e| match e {
                    SuiteLoad::Missing(m) => at(suite, m),
                    SuiteLoad::Config(e) => e,
                })?;
                suites.insert(suite.clone(), loaded);
            }
            let mut targets = lane.targets;
            targets.sort();
            targets.dedup();
            let mut transports = lane.transports;
            transports.sort();
            transports.dedup();
            let evidence = match lane.evidence {
                None => None,
                Some(mut evidence) => {
                    let outside = |what: &str, of: &str, stray: Option<&str>| {
                        stray.map_or(Ok(()), |item| {
                            Err(at(
                                "evidence",
                                format!("evidence.{what}: {item} is not a {of} of the lane"),
                            ))
                        })
                    };
                    let stray_via = evidence.transports.iter().find(|v| !transports.contains(v));
                    outside("transports", "transport", stray_via.map(|v| v.as_str()))?;
                    let stray_target = evidence.targets.iter().find(|t| !targets.contains(t));
                    outside("targets", "target", stray_target.map(|t| t.as_str()))?;
                    evidence.fixtures.sort();
                    evidence.fixtures.dedup();
                    evidence.transports.sort();
                    evidence.transports.dedup();
                    evidence.targets.sort();
                    evidence.targets.dedup();
                    Some(evidence)
                }
            };
            lanes.insert(
                name.clone(),
                Lane {
                    name,
                    description: lane.description,
                    suites: lane.suites,
                    targets,
                    transports,
                    tags: match lane.tags {
                        RawTags::Allow => TagPolicy::AllowTags,
                        RawTags::RequireDigest => TagPolicy::RequireDigest,
                    },
                    require_expected_oci: lane.require_expected_oci,
                    allow_known_failures: lane.allow_known_failures,
                    evidence,
                },
            );
        }
        Ok(Self {
            origin: origin.to_owned(),
            digest: super::certificate::sha256(text.as_bytes()),
            lanes,
            suites,
        })
    }

    /// The lane called `name`, or a message listing the known ones.
    pub fn get(&self, name: &str) -> Result<&Lane, String> {
        self.lanes.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.lanes.keys().map(String::as_str).collect();
            format!(
                "--lane {name:?} is not in {} (known: {})",
                self.origin,
                known.join(", ")
            )
        })
    }
}

enum SuiteLoad {
    Missing(String),
    Config(ConfigError),
}

fn load_suite(name: &str, dir: &Path, source: &SuiteSource<'_>) -> Result<Suite, SuiteLoad> {
    if !super::suite::is_name(name, false) {
        return Err(SuiteLoad::Missing(format!(
            "suite {name:?}: a suite name is lowercase letters, digits and `_`"
        )));
    }
    match source {
        SuiteSource::Embedded => {
            let (_, text) = EMBEDDED_SUITES
                .iter()
                .find(|(stem, _)| *stem == name)
                .ok_or_else(|| {
                    SuiteLoad::Missing(format!("suite {name:?} is not one of the embedded suites"))
                })?;
            let origin = format!("<embedded suites/{name}.yaml>");
            Suite::parse(text, &origin, name).map_err(SuiteLoad::Config)
        }
        SuiteSource::Dir(base) => {
            let path = base.join(dir).join(format!("{name}.yaml"));
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| {
                SuiteLoad::Config(ConfigError::Unreadable {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })
            })?;
            Suite::parse(&text, &origin, name).map_err(SuiteLoad::Config)
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn the_embedded_lanes_load_with_their_suites() {
        let lanes = Lanes::embedded().unwrap();
        let names: Vec<&str> = lanes.lanes.keys().map(String::as_str).collect();
        assert_eq!(names, ["dev", "main", "pr", "staging"]);
        assert_eq!(lanes.suites.len(), 4);
        assert_eq!(lanes.get("dev").unwrap().tags, TagPolicy::AllowTags);
        assert!(lanes.get("main").unwrap().require_expected_oci);
        assert!(
            lanes
                .get("nope")
                .unwrap_err()
                .contains("known: dev, main, pr, staging")
        );
    }

    #[test]
    fn the_repository_files_equal_the_embedded_ones() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let from_disk = Lanes::load(&root.join("ci/lanes.yaml")).unwrap();
        let embedded = Lanes::embedded().unwrap();
        assert_eq!(from_disk.lanes, embedded.lanes);
        assert_eq!(
            from_disk
                .suites
                .values()
                .map(|s| &s.cases)
                .collect::<Vec<_>>(),
            embedded
                .suites
                .values()
                .map(|s| &s.cases)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_unknown_key_names_its_position() {
        let text = "version: 1\nsuites_dir: x\nlanes:\n  dev:\n    description: d\n    suites: [contract]\n    targets: [local]\n    transports: [ws]\n    tags: allow\n    require_expected_oci: false\n    allow_known_failures: true\n    colour: red\n";
        let e = Lanes::parse(text, "l.yaml", &SuiteSource::Embedded).unwrap_err();
        assert!(e.to_string().starts_with("l.yaml:12:5: "), "{e}");
    }

    const ONE_LANE: &str = "version: 1\nsuites_dir: x\nlanes:\n  staging:\n    description: d\n    suites: [contract]\n    targets: [local]\n    transports: [ws, http]\n    tags: require_digest\n    require_expected_oci: false\n    allow_known_failures: true\n";

    #[test]
    fn evidence_names_only_the_lanes_own_transports_and_targets() {
        let good = format!(
            "{ONE_LANE}    evidence:\n      fixtures: [crash, valid, valid]\n      transports: [http]\n      targets: [local]\n"
        );
        let lanes = Lanes::parse(&good, "l.yaml", &SuiteSource::Embedded).unwrap();
        let evidence = lanes.get("staging").unwrap().evidence.clone().unwrap();
        assert_eq!(evidence.fixtures, [FixtureKind::Valid, FixtureKind::Crash]);
        let sse = good.replace("transports: [http]", "transports: [sse]");
        let e = Lanes::parse(&sse, "l.yaml", &SuiteSource::Embedded).unwrap_err();
        assert!(
            e.to_string()
                .contains("evidence.transports: sse is not a transport of the lane"),
            "{e}"
        );
        let url = good.replace("targets: [local]\n", "targets: [url]\n");
        let url = url.replacen("targets: [url]", "targets: [local]", 1);
        let e = Lanes::parse(&url, "l.yaml", &SuiteSource::Embedded).unwrap_err();
        assert!(e.to_string().starts_with("l.yaml:12:5: "), "{e}");
        assert!(e.to_string().contains("url is not a target"), "{e}");
        let unknown = good.replace("fixtures: [", "colour: red\n      fixtures: [");
        assert!(Lanes::parse(&unknown, "l.yaml", &SuiteSource::Embedded).is_err());
    }

    #[test]
    fn a_lane_that_asks_less_evidence_is_weaker() {
        let lanes = Lanes::embedded().unwrap();
        let main = lanes.get("main").unwrap();
        assert!(main.weakenings(main).is_empty());
        let mut lenient = main.clone();
        lenient.evidence = None;
        assert_eq!(lenient.weakenings(main), ["evidence is missing"]);
        let mut no_crash = main.clone();
        if let Some(evidence) = &mut no_crash.evidence {
            evidence.fixtures.retain(|k| *k != FixtureKind::Crash);
            evidence.targets.retain(|t| *t != TargetKind::Url);
        }
        assert_eq!(
            no_crash.weakenings(main),
            [
                "evidence.fixtures lacks crash",
                "evidence.targets lacks url"
            ]
        );
        // The embedded lanes: staging and main ask for it, dev and pr do not.
        for (name, asks) in [
            ("dev", false),
            ("pr", false),
            ("staging", true),
            ("main", true),
        ] {
            assert_eq!(lanes.get(name).unwrap().evidence.is_some(), asks, "{name}");
        }
    }
}
