//! Declarative suites (`suites/*.yaml`) -> typed [`Suite`]s.
//!
//! A suite file is versioned (`version: 1`), names itself (`suite:`, equal
//! to the file stem) and lists cases. Each case names one check of the
//! closed set ([`CheckKind`]), the fixture kinds it draws inputs from, the
//! targets and transports it applies to, whether it compares goldens, and
//! the check's own `params`, parsed strictly into that check's type.
//!
//! **Invariant:** no IO beyond reading the file; a [`Suite`] that loaded is
//! entirely valid (every error names file, line and column), so the planner
//! never re-checks it.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use theory_contract::ErrorCode;

use crate::plan::TargetKind;
use crate::vocab::Transport;

pub use crate::config_file::ConfigError;
pub(crate) use crate::config_file::locate_from;

/// Where a case can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetName {
    /// A local container from the registry's image.
    Local,
    /// The entry's pinned `url`.
    Url,
    /// The entry's Modal function.
    Modal,
}

impl TargetName {
    /// Every target, in report order.
    pub const ALL: [Self; 3] = [Self::Local, Self::Url, Self::Modal];

    /// `local`, `url` or `modal`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Url => "url",
            Self::Modal => "modal",
        }
    }

    /// The planner's kind.
    pub const fn kind(self) -> TargetKind {
        match self {
            Self::Local => TargetKind::Local,
            Self::Url => TargetKind::Url,
            Self::Modal => TargetKind::Modal,
        }
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a case talks: one of the transports, or `none` for a case that is
/// not about a transport (health, image pinning).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// WebSocket.
    Ws,
    /// HTTP `POST /run`.
    Http,
    /// SSE `POST /run-stream`.
    Sse,
    /// Not about a transport.
    None,
}

impl Via {
    /// The transports, in lane order.
    pub const TRANSPORTS: [Self; 3] = [Self::Ws, Self::Http, Self::Sse];

    /// `ws`, `http`, `sse` or `none`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ws => "ws",
            Self::Http => "http",
            Self::Sse => "sse",
            Self::None => "none",
        }
    }

    /// The adapter's transport, unless `none`.
    pub const fn transport(self) -> Option<Transport> {
        match self {
            Self::Ws => Some(Transport::Ws),
            Self::Http => Some(Transport::Http),
            Self::Sse => Some(Transport::Sse),
            Self::None => None,
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of a processor's fixtures a case draws its inputs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixtureKind {
    /// `valid/*.json`: must succeed.
    Valid,
    /// `invalid/*.json`: must give `ERR_INPUTS`.
    Invalid,
    /// `crash/*.json`: must crash (HTTP 500, `ERR_INTERNAL`).
    Crash,
}

impl FixtureKind {
    /// `valid`, `invalid` or `crash`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Crash => "crash",
        }
    }
}

/// The closed set of checks; one function per kind in `check.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The processor's own envelope for each fixture: the contract's
    /// shape, value and context rules, the expected status and code.
    Envelope,
    /// The disk rules for each valid fixture's outputs.
    Artifacts,
    /// Raw HTTP requests and the status, code and execution id they must get.
    HttpStatus,
    /// Raw WebSocket first frames and the close code they must get.
    WsClose,
    /// The WebSocket frame sequence of a normal run: no protocol break.
    WsSequence,
    /// The subprotocol: refused when not offered, selected when offered.
    WsSubprotocol,
    /// The SSE event sequence of a normal run: no protocol break.
    SseSequence,
    /// `/healthz` answered `{"ok":true}` within the health budget.
    Health,
    /// A normal run finishes within the registry's run budget.
    RunBudget,
    /// The same request over two transports: byte-identical envelopes.
    ParityTransports,
    /// The same request on two targets: byte-identical envelopes.
    ParityTargets,
    /// A remote endpoint that does not exist: `ERR_ENDPOINT_MISSING`, the
    /// same shape on every transport.
    NegativeEndpoint,
    /// A local image that does not exist: `ERR_IMAGE_NOT_FOUND`, the same
    /// shape on every transport.
    NegativeImage,
    /// N runs with random ids and prefixes: the same envelope up to them,
    /// the same artifact bytes, outputs under the prefix.
    Determinism,
    /// The expected digest is honoured, and a different one is refused
    /// with `ERR_REGISTRY_MISMATCH`.
    Digest,
    /// The image is pinned by digest.
    ImagePinned,
}

impl CheckKind {
    /// The spelling in suite files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Artifacts => "artifacts",
            Self::HttpStatus => "http_status",
            Self::WsClose => "ws_close",
            Self::WsSequence => "ws_sequence",
            Self::WsSubprotocol => "ws_subprotocol",
            Self::SseSequence => "sse_sequence",
            Self::Health => "health",
            Self::RunBudget => "run_budget",
            Self::ParityTransports => "parity_transports",
            Self::ParityTargets => "parity_targets",
            Self::NegativeEndpoint => "negative_endpoint",
            Self::NegativeImage => "negative_image",
            Self::Determinism => "determinism",
            Self::Digest => "digest",
            Self::ImagePinned => "image_pinned",
        }
    }

    /// The ways a case of this check may talk.
    pub const fn allowed_vias(self) -> &'static [Via] {
        match self {
            Self::Envelope
            | Self::Artifacts
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::NegativeEndpoint
            | Self::NegativeImage
            | Self::Determinism
            | Self::Digest => &[Via::Ws, Via::Http, Via::Sse],
            Self::HttpStatus => &[Via::Http, Via::Sse],
            Self::WsClose | Self::WsSequence | Self::WsSubprotocol => &[Via::Ws],
            Self::SseSequence => &[Via::Sse],
            Self::Health | Self::ImagePinned => &[Via::None],
        }
    }

    /// The targets a case of this check may name.
    pub const fn allowed_targets(self) -> &'static [TargetName] {
        match self {
            Self::NegativeEndpoint => &[TargetName::Url, TargetName::Modal],
            Self::NegativeImage | Self::ImagePinned => &[TargetName::Local],
            Self::Envelope
            | Self::Artifacts
            | Self::HttpStatus
            | Self::WsClose
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::Health
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::Determinism
            | Self::Digest => &TargetName::ALL,
        }
    }

    /// Whether the check needs at least one fixture kind.
    const fn needs_fixtures(self) -> bool {
        match self {
            Self::Envelope
            | Self::Artifacts
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::Determinism
            | Self::Digest => true,
            Self::HttpStatus
            | Self::WsClose
            | Self::Health
            | Self::NegativeEndpoint
            | Self::NegativeImage
            | Self::ImagePinned => false,
        }
    }

    /// Whether the check yields one envelope per item to compare with a golden.
    const fn can_golden(self) -> bool {
        match self {
            Self::Envelope | Self::HttpStatus => true,
            Self::Artifacts
            | Self::WsClose
            | Self::WsSequence
            | Self::WsSubprotocol
            | Self::SseSequence
            | Self::Health
            | Self::RunBudget
            | Self::ParityTransports
            | Self::ParityTargets
            | Self::NegativeEndpoint
            | Self::NegativeImage
            | Self::Determinism
            | Self::Digest
            | Self::ImagePinned => false,
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status an envelope must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `"success"`.
    Success,
    /// `"error"`.
    Error,
}

impl Status {
    /// `success` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

/// `envelope` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeParams {
    /// The status every fixture's envelope must have.
    pub expect_status: Status,
    /// The error code, for `expect_status: error`.
    #[serde(default, deserialize_with = "de_code")]
    pub expect_code: Option<ErrorCode>,
    /// The HTTP status the answer must carry on `http`/`sse` (default 200).
    #[serde(default)]
    pub http_status: Option<u16>,
}

/// One raw HTTP request of an `http_status` case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSend {
    /// Names the request in messages and goldens (`[a-z0-9_-]+`).
    pub label: String,
    /// The `Content-Type` header; absent sends none.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The body, a template: `{request}` (the standard request for the
    /// fixture, canonical JSON), `{inputs}` (the fixture), `{execution_id}`,
    /// `{prefix}`.
    pub body: String,
    /// Send the body chunked (no `Content-Length`).
    #[serde(default)]
    pub chunked: bool,
}

/// `http_status` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStatusParams {
    /// The requests, each answered as expected.
    pub sends: Vec<HttpSend>,
    /// The HTTP status each must get.
    pub expect_status: u16,
    /// The envelope's error code.
    #[serde(deserialize_with = "de_code_required")]
    pub expect_code: ErrorCode,
    /// The envelope's `execution_id`, a template (`""`, `{execution_id}`);
    /// not checked when absent.
    #[serde(default)]
    pub expect_execution_id: Option<String>,
}

/// One raw first frame of a `ws_close` case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSend {
    /// Names the frame in messages (`[a-z0-9_-]+`).
    pub label: String,
    /// The frame's text, a template like [`HttpSend::body`] (with
    /// `{run_open}`: the standard `RunOpen` frame).
    pub text: String,
    /// Send the text's bytes as a binary frame.
    #[serde(default)]
    pub binary: bool,
}

/// `ws_close` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsCloseParams {
    /// The first frames, each on its own connection.
    pub sends: Vec<WsSend>,
    /// The close code each must get.
    pub expect_close: u16,
}

/// `negative_endpoint` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeEndpointParams {
    /// A host that never resolves (the url target), e.g. under `.invalid`.
    pub host: String,
    /// An app that does not exist (the modal target).
    pub modal_app: String,
}

/// `determinism` params.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeterminismParams {
    /// Runs per fixture (2 to 10).
    pub runs: u32,
}

/// A check with its typed params.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// See [`CheckKind::Envelope`].
    Envelope(EnvelopeParams),
    /// See [`CheckKind::Artifacts`].
    Artifacts,
    /// See [`CheckKind::HttpStatus`].
    HttpStatus(HttpStatusParams),
    /// See [`CheckKind::WsClose`].
    WsClose(WsCloseParams),
    /// See [`CheckKind::WsSequence`].
    WsSequence,
    /// See [`CheckKind::WsSubprotocol`].
    WsSubprotocol,
    /// See [`CheckKind::SseSequence`].
    SseSequence,
    /// See [`CheckKind::Health`].
    Health,
    /// See [`CheckKind::RunBudget`].
    RunBudget,
    /// See [`CheckKind::ParityTransports`].
    ParityTransports,
    /// See [`CheckKind::ParityTargets`].
    ParityTargets,
    /// See [`CheckKind::NegativeEndpoint`].
    NegativeEndpoint(NegativeEndpointParams),
    /// See [`CheckKind::NegativeImage`].
    NegativeImage,
    /// See [`CheckKind::Determinism`].
    Determinism(DeterminismParams),
    /// See [`CheckKind::Digest`].
    Digest,
    /// See [`CheckKind::ImagePinned`].
    ImagePinned,
}

impl Check {
    /// Its kind.
    pub const fn kind(&self) -> CheckKind {
        match self {
            Self::Envelope(_) => CheckKind::Envelope,
            Self::Artifacts => CheckKind::Artifacts,
            Self::HttpStatus(_) => CheckKind::HttpStatus,
            Self::WsClose(_) => CheckKind::WsClose,
            Self::WsSequence => CheckKind::WsSequence,
            Self::WsSubprotocol => CheckKind::WsSubprotocol,
            Self::SseSequence => CheckKind::SseSequence,
            Self::Health => CheckKind::Health,
            Self::RunBudget => CheckKind::RunBudget,
            Self::ParityTransports => CheckKind::ParityTransports,
            Self::ParityTargets => CheckKind::ParityTargets,
            Self::NegativeEndpoint(_) => CheckKind::NegativeEndpoint,
            Self::NegativeImage => CheckKind::NegativeImage,
            Self::Determinism(_) => CheckKind::Determinism,
            Self::Digest => CheckKind::Digest,
            Self::ImagePinned => CheckKind::ImagePinned,
        }
    }
}

/// One case of a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// `[a-z0-9_]+`, unique in its suite.
    pub name: String,
    /// Which CONTRACT.md section and rule it checks.
    pub description: String,
    /// The check and its params.
    pub check: Check,
    /// The fixture kinds it draws inputs from (empty: none).
    pub fixtures: Vec<FixtureKind>,
    /// At most this many fixtures per trial (all when absent).
    pub max_fixtures: Option<usize>,
    /// The targets it applies to.
    pub targets: Vec<TargetName>,
    /// The transports it applies to (`[none]` for transport-free cases).
    pub vias: Vec<Via>,
    /// Whether its envelopes are compared with goldens.
    pub golden: bool,
}

/// A loaded suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    /// The suite's name (its file stem).
    pub name: String,
    /// Where it came from (for messages).
    pub origin: String,
    /// What it covers.
    pub description: String,
    /// Its cases, in file order.
    pub cases: Vec<Case>,
}

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
    targets: Option<Vec<TargetName>>,
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

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ErrorCode>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| {
        ErrorCode::parse(&t).ok_or_else(|| {
            serde::de::Error::custom(format!("{t:?} is not an error code of CONTRACT.md §4"))
        })
    })
    .transpose()
}

fn de_code_required<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ErrorCode, D::Error> {
    let text = String::deserialize(d)?;
    ErrorCode::parse(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} is not an error code of CONTRACT.md §4"))
    })
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
                    "expect_execution_id",
                    format!("unknown placeholder {bad}"),
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
            if !(2..=10).contains(&p.runs) {
                return Err(at("runs", "runs must be from 2 to 10".to_owned()));
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
        CheckKind::ImagePinned => none(params, Check::ImagePinned)?,
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
            return Err(at(label, format!("{label}: unknown placeholder {bad}")));
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
