//! The stable rule ids every violation carries, in one table.

/// Where a rule can be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// From the document's shape alone; the JSON Schemas enforce it too.
    Shape,
    /// From the document's values alone; beyond what the schemas express.
    Value,
    /// Needs the expected execution id, write prefix or host names.
    Context,
    /// Needs the write prefix on disk; checked by the harness, not this crate.
    Disk,
    /// Needs the storage the request handed over (CONTRACT.md §7); checked
    /// by the harness, not this crate.
    Storage,
}

macro_rules! rules {
    ($($variant:ident => $id:literal, $scope:ident, $doc:literal;)*) => {
        /// A rule of CONTRACT.md §2 and §7. Its id is stable: reports, known
        /// failure lists and fixtures name rules by it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $(#[doc = $doc] $variant,)*
        }

        impl Rule {
            /// Every rule, in table order.
            pub const ALL: &[Rule] = &[$(Rule::$variant,)*];

            /// The stable id, e.g. `envelope.outputs.unsorted`.
            pub const fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// What the rule requires, one line.
            pub const fn description(self) -> &'static str {
                match self { $(Rule::$variant => $doc,)* }
            }

            /// Where it can be decided.
            pub const fn scope(self) -> Scope {
                match self { $(Rule::$variant => Scope::$scope,)* }
            }

            /// Whether deciding it needs the artifacts themselves (on disk
            /// or in storage): the harness decides it, not this crate.
            pub const fn needs_artifacts(self) -> bool {
                matches!(self.scope(), Scope::Disk | Scope::Storage)
            }
        }
    };
}

rules! {
    NotObject => "envelope.not_object", Shape, "The envelope is a JSON object.";
    StatusMissing => "envelope.status.missing", Shape, "`status` is present.";
    StatusInvalid => "envelope.status.invalid", Shape, "`status` is `\"success\"` or `\"error\"`.";
    UnknownField => "envelope.unknown_field", Shape, "The envelope has only the fields of its status.";
    ExecutionIdMissing => "envelope.execution_id.missing", Shape, "`execution_id` is present.";
    ExecutionIdType => "envelope.execution_id.type", Shape, "`execution_id` is a string.";
    OutputsMissing => "envelope.outputs.missing", Shape, "A success envelope has `outputs`.";
    OutputsType => "envelope.outputs.type", Shape, "`outputs` is an array of objects.";
    OutputsUnknownField => "envelope.outputs.unknown_field", Shape, "An output has only `path`.";
    OutputsPathMissing => "envelope.outputs.path.missing", Shape, "An output has `path`.";
    OutputsPathType => "envelope.outputs.path.type", Shape, "An output's `path` is a string.";
    IndexPathMissing => "envelope.index_path.missing", Shape, "A success envelope has `index_path`.";
    IndexPathType => "envelope.index_path.type", Shape, "`index_path` is a string.";
    ErrorMissing => "envelope.error.missing", Shape, "An error envelope has `error`.";
    ErrorType => "envelope.error.type", Shape, "`error` is an object.";
    ErrorUnknownField => "envelope.error.unknown_field", Shape, "`error` has only `code` and `message`.";
    ErrorCodeMissing => "envelope.error.code.missing", Shape, "`error.code` is present.";
    ErrorCodeUnknown => "envelope.error.code.unknown", Shape, "`error.code` is one of the nine codes of CONTRACT.md §4.";
    ErrorMessageMissing => "envelope.error.message.missing", Shape, "`error.message` is present.";
    ErrorMessageType => "envelope.error.message.type", Shape, "`error.message` is a string.";
    MetaMissing => "envelope.meta.missing", Shape, "`meta` is present.";
    MetaType => "envelope.meta.type", Shape, "`meta` is an object.";
    MetaUnknownField => "envelope.meta.unknown_field", Shape, "`meta` has only `env_fingerprint`, `image_digest` and `stderr_tail`.";
    FingerprintMissing => "envelope.meta.env_fingerprint.missing", Shape, "`meta.env_fingerprint` is present.";
    FingerprintType => "envelope.meta.env_fingerprint.type", Shape, "`meta.env_fingerprint` is a string.";
    FingerprintMalformed => "envelope.meta.env_fingerprint.malformed", Shape, "`meta.env_fingerprint` is `key:value` pairs joined by `;`.";
    DigestType => "envelope.meta.image_digest.type", Shape, "`meta.image_digest` is a string.";
    DigestMalformed => "envelope.meta.image_digest.malformed", Shape, "`meta.image_digest` is `sha256:` and 64 lowercase hex digits.";
    StderrTailType => "envelope.meta.stderr_tail.type", Shape, "`meta.stderr_tail` is a string.";
    OutputsNotAbsolute => "envelope.outputs.not_absolute", Value, "Every output path is absolute.";
    OutputsNotNormalized => "envelope.outputs.not_normalized", Value, "Every output path is normalised: no empty, `.` or `..` segment, no trailing `/`.";
    OutputsUnsorted => "envelope.outputs.unsorted", Value, "`outputs` is sorted by the byte order of its paths.";
    OutputsDuplicate => "envelope.outputs.duplicate", Value, "No path appears twice in `outputs`.";
    OutputsListsIndex => "envelope.outputs.lists_index", Value, "The index file is not itself an entry of `outputs`.";
    IndexPathNotAbsolute => "envelope.index_path.not_absolute", Value, "`index_path` is absolute.";
    IndexPathNotNormalized => "envelope.index_path.not_normalized", Value, "`index_path` is normalised.";
    ErrorMessageEmpty => "envelope.error.message.empty", Value, "`error.message` is not empty.";
    ErrorMessageTooLong => "envelope.error.message.too_long", Value, "`error.message` is short: at most 1024 bytes.";
    ErrorMessageStackTrace => "envelope.error.message.stack_trace", Value, "`error.message` carries no stack trace.";
    FingerprintUnsorted => "envelope.meta.env_fingerprint.unsorted", Value, "`meta.env_fingerprint` pairs are sorted by key.";
    FingerprintDuplicateKey => "envelope.meta.env_fingerprint.duplicate_key", Value, "`meta.env_fingerprint` has each key once.";
    FingerprintHostData => "envelope.meta.env_fingerprint.host_data", Value, "`meta.env_fingerprint` describes the declared runtime, not the host (no host, pid, time keys).";
    StderrTailTooLong => "envelope.meta.stderr_tail.too_long", Value, "`meta.stderr_tail` is at most 2048 bytes of UTF-8.";
    StderrTailSplitChar => "envelope.meta.stderr_tail.split_char", Value, "`meta.stderr_tail` is cut on a UTF-8 boundary (it does not start with U+FFFD).";
    VolatileTimestamp => "envelope.volatile.timestamp", Value, "No value outside `stderr_tail` holds a date and time.";
    VolatilePid => "envelope.volatile.pid", Value, "No value outside `stderr_tail` holds a process id.";
    ExecutionIdMismatch => "envelope.execution_id.mismatch", Context, "`execution_id` echoes the request's unchanged.";
    OutputsOutsidePrefix => "envelope.outputs.outside_prefix", Context, "Every output path is under the expanded write prefix.";
    IndexPathOutsidePrefix => "envelope.index_path.outside_prefix", Context, "`index_path` is under the expanded write prefix.";
    OutputsReserved => "envelope.outputs.reserved", Context, "No output path is in the prefix's reserved folder `.theory/`, where the orchestrator persists the envelope.";
    IndexPathReserved => "envelope.index_path.reserved", Context, "`index_path` is not in the prefix's reserved folder `.theory/`.";
    SecretValue => "envelope.secret_value", Context, "No string of the envelope, `stderr_tail` and member names included, holds the value of a secret declared for the processor (CONTRACT.md §10).";
    VolatileHost => "envelope.volatile.host", Context, "No value outside `stderr_tail` names the host or container the processor runs on.";
    OutputsMissingFile => "envelope.outputs.missing_file", Disk, "Every output exists as a regular file when the run returns.";
    OutputsEscapesPrefix => "envelope.outputs.escapes_prefix", Disk, "Every output's real path (symlinks resolved) stays under the prefix.";
    IndexMissingFile => "envelope.index_path.missing_file", Disk, "The index file exists as a regular file.";
    IndexEscapesPrefix => "envelope.index_path.escapes_prefix", Disk, "The index file's real path stays under the prefix.";
    IndexNotCanonical => "envelope.index.not_canonical", Disk, "The index file is canonical JSON (RFC 8785).";
    OutputsSecretValue => "envelope.outputs.secret_value", Disk, "No output file holds the value of a secret declared for the processor (CONTRACT.md §10).";
    IndexMismatch => "envelope.index.mismatch", Disk, "The index file holds exactly `{\"outputs\":[...]}` with the envelope's outputs.";
    StorageUndeclared => "storage.undeclared", Storage, "Under a storage hand-over, every output and the index name a path the hand-over gave an upload URL for.";
    StorageMissing => "storage.missing", Storage, "Under a storage hand-over, every output and the index are uploaded when the run answers.";
    StorageSize => "storage.size", Storage, "Under a storage hand-over, no upload holds more than the hand-over's `max_bytes`.";
    StorageLate => "storage.late", Storage, "Under a storage hand-over, no upload arrives after the run's answer (`RunResult`, the HTTP response, `done`).";
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One broken rule, where, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// RFC 6901 JSON pointer to the offending value (`""` for the root).
    pub pointer: String,
    /// Short lowercase reason with the actionable detail.
    pub message: String,
}

impl Violation {
    /// A violation of `rule` at `pointer`.
    pub fn new(rule: Rule, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule,
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The report line: `rule-id<TAB>json-pointer<TAB>message`.
    pub fn line(&self) -> String {
        format!("{}\t{}\t{}", self.rule.id(), self.pointer, self.message)
    }

    /// The order of report lines: by rule id, then pointer, then message.
    pub fn sort(violations: &mut [Self]) {
        violations.sort_by(|a, b| {
            (a.rule.id(), &a.pointer, &a.message).cmp(&(b.rule.id(), &b.pointer, &b.message))
        });
    }
}
