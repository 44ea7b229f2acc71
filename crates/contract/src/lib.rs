//! `theory-contract`: the `theory.run.v1` wire, the one source of truth for
//! every layer and for processors written in Rust.
//!
//! - [`Envelope`], [`ErrorCode`], [`RunRequest`], [`RunOpen`], [`Frame`]: the
//!   messages, with strict (fail-closed) deserialization.
//! - [`canon`]: strict JSON parsing and RFC 8785 canonical bytes.
//! - [`check_envelope`]: every rule of CONTRACT.md §2 and §7 that can be
//!   decided without a disk, each violation with a stable [`Rule`] id.
//! - [`WritePrefix`], [`EnvFingerprint`], [`Digest`]: the constrained strings.
//!
//! **Invariant:** no IO and no async runtime; every function is pure.

pub mod canon;
mod code;
mod digest;
mod envelope;
mod fingerprint;
mod prefix;
mod rules;
pub mod stack_trace;
pub mod text;
mod validate;
mod wire;

pub use code::ErrorCode;
pub use digest::{Digest, DigestError};
pub use envelope::{
    Envelope, ErrorBody, Failure, INDEX_FILE, Meta, Output, STDERR_TAIL_MAX, Success,
    comparable_bytes, index_document,
};
pub use fingerprint::{EnvFingerprint, FingerprintError, HOST_KEYS};
pub use prefix::{PLACEHOLDER, PrefixError, WritePrefix, is_normal_path};
pub use rules::{Rule, Scope, Violation};
pub use validate::{Expect, MESSAGE_MAX, RESERVED_FOLDER, SECRET_MASK, SECRET_MIN, check_envelope};
pub use wire::{
    CLOSE_INVALID_PAYLOAD, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, Frame, FrameKind, Payload,
    RequestError, Role, RunOpen, RunRequest, SUBPROTOCOL, ShapeError, Storage, decode,
};

/// Escapes one RFC 6901 JSON pointer token (`~` -> `~0`, `/` -> `~1`).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
