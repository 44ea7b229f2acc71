//! Strict JSON parsing and RFC 8785 (JSON Canonicalization Scheme) output.
//!
//! Envelopes are compared, stored and printed only in canonical form
//! (CONTRACT §3). This module turns bytes into that form and refuses
//! anything whose canonical form would be ambiguous:
//!
//! - [`parse`] reads RFC 8259 JSON with the I-JSON (RFC 7493) restrictions
//!   RFC 8785 relies on: UTF-8 only, no byte-order mark, no duplicate member
//!   names, no lone surrogates, no number that a double cannot hold
//!   (overflow, underflow of a non-zero literal, a literal in plain
//!   notation at or beyond 2^53 whose value is not exactly its double's
//!   canonical value, such as `9007199254740993` or `9007199254740993.0`),
//!   and at most [`MAX_DEPTH`] nested arrays and objects.
//! - [`to_canonical`] writes a [`Json`] value the RFC 8785 way: no
//!   whitespace, members sorted by the UTF-16 code units of their names,
//!   strings escaped as RFC 8785 §3.2.2.2 says, numbers formatted as
//!   ECMAScript's `Number.prototype.toString` does (via `ryu-js`).
//! - [`canonicalize`] is both in one step; [`to_canonical_serde`] does it for
//!   any `serde::Serialize` value.
//!
//! **Invariant:** no IO and no recursion on input depth: the parser keeps its
//! own stack, so a megabyte of `[` is an error, never a stack overflow.
//!
//! Canonical output always parses back to itself: `canonicalize` is a
//! fixed point (ECMAScript writes doubles in (2^53, 1e21) as plain integers
//! such as `100000000000000000000`, and [`parse`] accepts exactly those).

use std::collections::HashSet;

/// The deepest nesting of arrays and objects [`parse`] and [`to_canonical`]
/// accept; the outermost array or object is level 1.
pub const MAX_DEPTH: usize = 128;

/// 2^53: from there on, a number literal in plain notation must have
/// exactly the value of its double's canonical spelling.
#[expect(clippy::cast_precision_loss, reason = "2^53 is exact in a double")]
const TWO_POW_53: f64 = (1_u64 << 53) as f64;

/// A parsed JSON value.
///
/// Object members keep their source order; [`to_canonical`] sorts them.
/// Numbers are IEEE-754 doubles, as in ECMAScript and RFC 8785.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number; [`parse`] only produces finite values.
    Number(f64),
    /// A string, decoded (escapes resolved).
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object's members in source order; [`parse`] guarantees unique names.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object; `None` for any other value or a
    /// missing member.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Self::Null | Self::Bool(_) | Self::Number(_) | Self::String(_) | Self::Array(_) => None,
        }
    }
}

/// The same value as `serde_json` holds it; integral numbers within 2^53
/// become integers, so `1` stays `1` (and canonical bytes do not change).
impl From<Json> for serde_json::Value {
    fn from(json: Json) -> Self {
        match json {
            Json::Null => Self::Null,
            Json::Bool(b) => Self::Bool(b),
            Json::Number(n) => {
                const EXACT: f64 = 9_007_199_254_740_992.0;
                if n.fract() == 0.0 && n.abs() <= EXACT {
                    #[expect(clippy::cast_possible_truncation, reason = "integral and within 2^53")]
                    let i = n as i64;
                    Self::from(i)
                } else {
                    serde_json::Number::from_f64(n).map_or(Self::Null, Self::Number)
                }
            }
            Json::String(s) => Self::String(s),
            Json::Array(items) => Self::Array(items.into_iter().map(Self::from).collect()),
            Json::Object(members) => Self::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, Self::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Why [`parse`] refused its input.
///
/// Each kind has a stable [`code`](ParseErrorKind::code); the `Display`
/// text is a short lowercase fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ParseErrorKind {
    /// The input is empty or only whitespace.
    #[error("empty input, expected a JSON value")]
    EmptyInput,
    /// The input is not valid UTF-8; the position is the first bad byte.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The input starts with a UTF-8 byte-order mark (U+FEFF).
    #[error("byte-order mark is not allowed")]
    ByteOrderMark,
    /// The input ends inside a value; the position is the end of the input.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A value was expected and something else was found.
    #[error("expected a value")]
    ExpectedValue,
    /// A word that is not `true`, `false` or `null`.
    #[error("invalid literal, expected 'true', 'false' or 'null'")]
    InvalidLiteral,
    /// Inside an array, after an element.
    #[error("expected ',' or ']'")]
    ExpectedCommaOrBracket,
    /// Inside an object, after a member value.
    #[error("expected ',' or '}}'")]
    ExpectedCommaOrBrace,
    /// Inside an object, where a member name must start.
    #[error("expected '\"' to start a member name")]
    ExpectedMemberName,
    /// After a member name.
    #[error("expected ':'")]
    ExpectedColon,
    /// Something other than whitespace follows the value.
    #[error("unexpected data after the JSON value")]
    TrailingCharacters,
    /// A member name repeats one earlier in the same object (I-JSON, RFC
    /// 8785 §3.1); the position is the repeated name. Names are compared
    /// after unescaping.
    #[error("duplicate member name")]
    DuplicateMemberName,
    /// A string has no closing quote; the position is its opening quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A character below U+0020 appears unescaped in a string.
    #[error("control character in string must be escaped")]
    ControlCharacterInString,
    /// A backslash followed by something that is not a JSON escape.
    #[error("invalid escape sequence")]
    InvalidEscape,
    /// `\u` not followed by four hexadecimal digits.
    #[error("invalid \\u escape, expected four hex digits")]
    InvalidUnicodeEscape,
    /// A `\uD800`–`\uDFFF` escape that is not part of a high-low pair; the
    /// position is its backslash.
    #[error("lone surrogate in \\u escape")]
    LoneSurrogate,
    /// Not an RFC 8259 number (leading zeros, `+`, `.5`, `1.`, `1e`, ...).
    #[error("invalid number")]
    InvalidNumber,
    /// The number is too large for a double.
    #[error("number overflows to infinity")]
    NumberOverflow,
    /// A non-zero number too small for a double.
    #[error("non-zero number underflows to zero")]
    NumberUnderflow,
    /// A literal in plain notation (no exponent) at or beyond 2^53 in
    /// magnitude whose value is not exactly its double's canonical value
    /// (`9007199254740993`, `9007199254740993.0`); literals with that value
    /// (`100000000000000000000`, `1000000000000000000000`) are accepted, and
    /// exponent notation is rounded.
    #[error("integer beyond 2^53 cannot be represented exactly")]
    IntegerBeyond2Pow53,
    /// More than [`MAX_DEPTH`] nested arrays and objects; the position is the
    /// bracket that opens level 129.
    #[error("nesting deeper than 128 arrays and objects")]
    NestingTooDeep,
}

impl ParseErrorKind {
    /// A stable machine-readable code, e.g. `"duplicate_member_name"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::EmptyInput => "empty_input",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::ByteOrderMark => "byte_order_mark",
            Self::UnexpectedEnd => "unexpected_end",
            Self::ExpectedValue => "expected_value",
            Self::InvalidLiteral => "invalid_literal",
            Self::ExpectedCommaOrBracket => "expected_comma_or_bracket",
            Self::ExpectedCommaOrBrace => "expected_comma_or_brace",
            Self::ExpectedMemberName => "expected_member_name",
            Self::ExpectedColon => "expected_colon",
            Self::TrailingCharacters => "trailing_characters",
            Self::DuplicateMemberName => "duplicate_member_name",
            Self::UnterminatedString => "unterminated_string",
            Self::ControlCharacterInString => "control_character_in_string",
            Self::InvalidEscape => "invalid_escape",
            Self::InvalidUnicodeEscape => "invalid_unicode_escape",
            Self::LoneSurrogate => "lone_surrogate",
            Self::InvalidNumber => "invalid_number",
            Self::NumberOverflow => "number_overflow",
            Self::NumberUnderflow => "number_underflow",
            Self::IntegerBeyond2Pow53 => "integer_beyond_2pow53",
            Self::NestingTooDeep => "nesting_too_deep",
        }
    }
}

/// A [`parse`] failure with its position.
///
/// `line` and `column` are 1-based. Lines are separated by LF (`\n`).
/// `column` counts **bytes**: the number of bytes between the start of the
/// line and the error, plus one (so a column after a multi-byte character is
/// larger than its character count). `offset` is the 0-based byte offset
/// into the input. `Display` renders `line:column: message`, e.g.
/// `3:14: expected ',' or '}'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// 0-based byte offset into the input.
    pub offset: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    fn at(input: &[u8], offset: usize, kind: ParseErrorKind) -> Self {
        let before = &input[..offset.min(input.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |newline| newline + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        Self {
            line,
            column: offset - line_start + 1,
            offset,
            kind,
        }
    }
}

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    /// A NaN or infinite number; JSON has no spelling for it.
    #[error("number is not finite (NaN or infinity)")]
    NonFiniteNumber,
    /// Two members of one object have the same name.
    #[error("duplicate member name {name:?}")]
    DuplicateMemberName {
        /// The repeated name.
        name: String,
    },
    /// More than [`MAX_DEPTH`] nested arrays and objects.
    #[error("nesting deeper than 128 arrays and objects")]
    NestingTooDeep,
    /// `serde_json` could not serialize the value ([`to_canonical_serde`]).
    #[error("serialize: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The JSON `serde_json` produced breaks a rule of [`parse`], e.g. an
    /// integer beyond 2^53 ([`to_canonical_serde`]).
    #[error("serialized JSON is not canonicalizable: {0}")]
    Parse(#[source] ParseError),
}

/// Parses one JSON text strictly (RFC 8259 plus the I-JSON rules listed in
/// the [module docs](self)).
///
/// # Errors
///
/// A [`ParseError`] at the first rule broken; the input is checked to be
/// UTF-8 (and BOM-free) before anything else.
pub fn parse(input: &[u8]) -> Result<Json, ParseError> {
    if input.starts_with(b"\xEF\xBB\xBF") {
        return Err(ParseError::at(input, 0, ParseErrorKind::ByteOrderMark));
    }
    let text = std::str::from_utf8(input)
        .map_err(|e| ParseError::at(input, e.valid_up_to(), ParseErrorKind::InvalidUtf8))?;
    let mut parser = Parser { text, pos: 0 };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error(ParseErrorKind::EmptyInput));
    }
    let value = parser.parse_document()?;
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(parser.error(ParseErrorKind::TrailingCharacters));
    }
    Ok(value)
}

/// Parses `input` strictly and returns its RFC 8785 canonical bytes.
///
/// ```
/// use theory_contract::canon::canonicalize;
///
/// let canonical = canonicalize(br#"{ "b": [1.0, 2e3, -0], "a": "\u00e9\n" }"#)?;
/// assert_eq!(canonical, "{\"a\":\"é\\n\",\"b\":[1,2000,0]}".as_bytes());
///
/// let error = canonicalize(b"{\"a\": 1, \"a\": 2}").unwrap_err();
/// assert_eq!(error.to_string(), "1:10: duplicate member name");
/// # Ok::<(), theory_contract::canon::ParseError>(())
/// ```
///
/// # Errors
///
/// Whatever [`parse`] refuses. A parsed value always has a canonical form.
pub fn canonicalize(input: &[u8]) -> Result<Vec<u8>, ParseError> {
    let value = parse(input)?;
    let mut out = Vec::with_capacity(input.len());
    // Parsed numbers are finite, parsed names unique and parsed depth is at
    // most MAX_DEPTH, so the writer has nothing left to refuse.
    write_value(&mut out, &value, 0)
        .expect("a parsed value is finite, duplicate-free and at most MAX_DEPTH deep");
    Ok(out)
}

/// Writes `value` in RFC 8785 canonical form.
///
/// Fallible because a hand-built [`Json`] can hold what [`parse`] never
/// produces: non-finite numbers, repeated member names, or nesting deeper
/// than [`MAX_DEPTH`]. `-0` is written as `0`. Numbers are not subject to
/// the 2^53 literal rule: a double is exact by definition.
///
/// # Errors
///
/// [`CanonError::NonFiniteNumber`], [`CanonError::DuplicateMemberName`] or
/// [`CanonError::NestingTooDeep`].
pub fn to_canonical(value: &Json) -> Result<Vec<u8>, CanonError> {
    let mut out = Vec::new();
    write_value(&mut out, value, 0)?;
    Ok(out)
}

/// Serializes `value` with `serde_json` and canonicalizes the result.
///
/// Non-finite floats are refused (`serde_json` alone would silently write
/// them as `null`), and so is anything [`parse`] refuses, e.g. a `u64`
/// beyond 2^53. An `f32` passes through its shortest decimal spelling, so
/// `0.1f32` becomes `0.1`.
///
/// # Errors
///
/// [`CanonError::NonFiniteNumber`] for a NaN or infinite `f32`/`f64`,
/// [`CanonError::Serialize`] when `serde_json` fails, and
/// [`CanonError::Parse`] when its output breaks a rule of [`parse`].
pub fn to_canonical_serde<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonError> {
    if let Err(finite_check::Refused::NonFinite) = value.serialize(finite_check::FiniteCheck) {
        return Err(CanonError::NonFiniteNumber);
    }
    // Any other failure of the check came from the value's own Serialize
    // impl; serde_json reports it below with its own error.
    let json = serde_json::to_vec(value).map_err(CanonError::Serialize)?;
    canonicalize(&json).map_err(CanonError::Parse)
}

/// Appends `s` as an RFC 8785 string (§3.2.2.2), quotes included.
///
/// `"` and `\` and the controls U+0008, U+0009, U+000A, U+000C, U+000D get
/// their two-character escapes; other characters below U+0020 become
/// `\u00xx` (lowercase hex); everything else, including `/`, U+007F,
/// U+2028 and all non-ASCII characters, is copied as UTF-8.
pub fn write_canonical_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0x0F)]);
        } else {
            out.extend_from_slice(short);
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// Writes `value`, which sits inside `depth` arrays and objects.
fn write_value(out: &mut Vec<u8>, value: &Json, depth: usize) -> Result<(), CanonError> {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(true) => out.extend_from_slice(b"true"),
        Json::Bool(false) => out.extend_from_slice(b"false"),
        Json::Number(number) => {
            if !number.is_finite() {
                return Err(CanonError::NonFiniteNumber);
            }
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(*number).as_bytes());
        }
        Json::String(s) => write_canonical_string(out, s),
        Json::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(CanonError::NestingTooDeep);
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(b']');
        }
        Json::Object(members) => {
            if depth >= MAX_DEPTH {
                return Err(CanonError::NestingTooDeep);
            }
            let mut sorted: Vec<&(String, Json)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                return Err(CanonError::DuplicateMemberName {
                    name: pair[0].0.clone(),
                });
            }
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_string(out, name);
                out.push(b':');
                write_value(out, member, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// An array or object still being read.
enum Frame {
    Array(Vec<Json>),
    Object {
        members: Vec<(String, Json)>,
        names: HashSet<String>,
        /// The name whose value is being read.
        pending: String,
    },
}

/// Cursor over input already checked to be UTF-8.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn error(&self, kind: ParseErrorKind) -> ParseError {
        self.error_at(self.pos, kind)
    }

    fn error_at(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::at(self.bytes(), offset, kind)
    }

    /// `kind` here, or [`ParseErrorKind::UnexpectedEnd`] at the end.
    fn unexpected(&self, kind: ParseErrorKind) -> ParseError {
        if self.at_end() {
            self.error(ParseErrorKind::UnexpectedEnd)
        } else {
            self.error(kind)
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads one value with an explicit stack instead of recursion.
    fn parse_document(&mut self) -> Result<Json, ParseError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // Read a value, or open a container and go read its first child.
            let mut value = match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(ParseErrorKind::NestingTooDeep));
                    }
                    self.pos += 1;
                    self.skip_whitespace();
                    if open == b'[' {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            Json::Array(Vec::new())
                        } else {
                            stack.push(Frame::Array(Vec::new()));
                            continue;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Json::Object(Vec::new())
                    } else {
                        let mut names = HashSet::new();
                        let pending = self.parse_member_name(&mut names)?;
                        stack.push(Frame::Object {
                            members: Vec::new(),
                            names,
                            pending,
                        });
                        continue;
                    }
                }
                Some(b'"') => Json::String(self.parse_string()?),
                Some(b'-' | b'+' | b'.' | b'0'..=b'9') => Json::Number(self.parse_number()?),
                Some(b'a'..=b'z' | b'A'..=b'Z') => self.parse_literal()?,
                Some(_) => return Err(self.error(ParseErrorKind::ExpectedValue)),
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
            };
            // Hand the finished value to its container, closing containers
            // until one wants another child.
            loop {
                let Some(frame) = stack.last_mut() else {
                    return Ok(value);
                };
                self.skip_whitespace();
                match frame {
                    Frame::Array(items) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_whitespace();
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = Json::Array(std::mem::take(items));
                                stack.pop();
                            }
                            Some(_) | None => {
                                return Err(self.unexpected(ParseErrorKind::ExpectedCommaOrBracket));
                            }
                        }
                    }
                    Frame::Object {
                        members,
                        names,
                        pending,
                    } => {
                        members.push((std::mem::take(pending), value));
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_whitespace();
                                *pending = self.parse_member_name(names)?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = Json::Object(std::mem::take(members));
                                stack.pop();
                            }
                            Some(_) | None => {
                                return Err(self.unexpected(ParseErrorKind::ExpectedCommaOrBrace));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reads `"name" :` and the whitespace after it, refusing a name already
    /// in `names`.
    fn parse_member_name(&mut self, names: &mut HashSet<String>) -> Result<String, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected(ParseErrorKind::ExpectedMemberName));
        }
        let start = self.pos;
        let name = self.parse_string()?;
        if !names.insert(name.clone()) {
            return Err(self.error_at(start, ParseErrorKind::DuplicateMemberName));
        }
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.unexpected(ParseErrorKind::ExpectedColon));
        }
        self.pos += 1;
        self.skip_whitespace();
        Ok(name)
    }

    /// Reads a string starting at its opening quote.
    fn parse_string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error_at(open, ParseErrorKind::UnterminatedString));
            };
            match byte {
                b'"' => {
                    out.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run_start..self.pos]);
                    out.push(self.parse_escape(open)?);
                    run_start = self.pos;
                }
                0x00..=0x1F => return Err(self.error(ParseErrorKind::ControlCharacterInString)),
                _ => self.pos += 1,
            }
        }
    }

    /// Reads an escape starting at its backslash.
    fn parse_escape(&mut self, open: usize) -> Result<char, ParseError> {
        let backslash = self.pos;
        let Some(&letter) = self.bytes().get(backslash + 1) else {
            return Err(self.error_at(open, ParseErrorKind::UnterminatedString));
        };
        self.pos += 2;
        let decoded = match letter {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4(backslash)?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error_at(backslash, ParseErrorKind::LoneSurrogate));
                        }
                        let low_backslash = self.pos;
                        self.pos += 2;
                        let low = self.hex4(low_backslash)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error_at(backslash, ParseErrorKind::LoneSurrogate));
                        }
                        let scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(scalar).ok_or_else(|| {
                            self.error_at(backslash, ParseErrorKind::LoneSurrogate)
                        })?
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error_at(backslash, ParseErrorKind::LoneSurrogate));
                    }
                    _ => char::from_u32(unit)
                        .ok_or_else(|| self.error_at(backslash, ParseErrorKind::LoneSurrogate))?,
                }
            }
            _ => return Err(self.error_at(backslash, ParseErrorKind::InvalidEscape)),
        };
        Ok(decoded)
    }

    /// Reads the four hex digits of a `\u` escape whose backslash is at
    /// `backslash`; `self.pos` is just after the `u`.
    fn hex4(&mut self, backslash: usize) -> Result<u32, ParseError> {
        let digits = self
            .bytes()
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error_at(backslash, ParseErrorKind::InvalidUnicodeEscape))?;
        let mut unit = 0;
        for &digit in digits {
            let nibble = char::from(digit)
                .to_digit(16)
                .ok_or_else(|| self.error_at(backslash, ParseErrorKind::InvalidUnicodeEscape))?;
            unit = unit * 16 + nibble;
        }
        self.pos += 4;
        Ok(unit)
    }

    /// Reads the maximal run of number characters and checks it against the
    /// RFC 8259 grammar, so `01`, `1.`, `+1` and `1e+` are one clear error.
    fn parse_number(&mut self) -> Result<f64, ParseError> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        let invalid = || self.error_at(start, ParseErrorKind::InvalidNumber);
        let shape = number_shape(token.as_bytes()).ok_or_else(invalid)?;
        let value: f64 = token.parse().map_err(|_| invalid())?;
        if value.is_infinite() {
            return Err(self.error_at(start, ParseErrorKind::NumberOverflow));
        }
        if value == 0.0 && shape.significand_nonzero {
            return Err(self.error_at(start, ParseErrorKind::NumberUnderflow));
        }
        // At 2^53 and beyond a double holds only some integers: a literal
        // in plain notation there (an id, a count) is accepted only when its
        // value is exactly that of its double's canonical form
        // (`9007199254740993` and `9007199254740993.0` alike are refused;
        // `100000000000000000000` and `1000000000000000000000` pass), so
        // canonical output always parses back and no digit of a large
        // integer is silently changed. Exponent notation states an
        // approximation (`1.7976931348623158e308`) and is rounded.
        if value.abs() >= TWO_POW_53
            && !token.contains(['e', 'E'])
            && exact_decimal(token.as_bytes())
                != exact_decimal(ryu_js::Buffer::new().format_finite(value).as_bytes())
        {
            return Err(self.error_at(start, ParseErrorKind::IntegerBeyond2Pow53));
        }
        Ok(value)
    }

    /// Reads `true`, `false` or `null`; any other word is one error.
    fn parse_literal(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        while let Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_') = self.peek() {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            "null" => Ok(Json::Null),
            _ => Err(self.error_at(start, ParseErrorKind::InvalidLiteral)),
        }
    }
}

/// What the number grammar learned about a literal.
struct NumberShape {
    /// Whether any digit before the exponent is non-zero.
    significand_nonzero: bool,
}

/// A grammatical number literal's exact value: its sign, its significant
/// digits (no leading or trailing zero) and the power of ten of the last
/// one. Equal values give equal triples, however they are spelled.
fn exact_decimal(literal: &[u8]) -> (bool, Vec<u8>, i64) {
    let negative = literal.first() == Some(&b'-');
    let body = &literal[usize::from(negative)..];
    let (significand, exponent) = match body.iter().position(|b| matches!(b, b'e' | b'E')) {
        Some(e) => (&body[..e], &body[e + 1..]),
        None => (body, &b""[..]),
    };
    let mut power: i64 = std::str::from_utf8(exponent)
        .ok()
        .and_then(|e| e.trim_start_matches('+').parse().ok())
        .unwrap_or(0);
    let (integer, fraction) = match significand.iter().position(|&b| b == b'.') {
        Some(dot) => (&significand[..dot], &significand[dot + 1..]),
        None => (significand, &b""[..]),
    };
    power = power.saturating_sub(i64::try_from(fraction.len()).unwrap_or(i64::MAX));
    let mut digits: Vec<u8> = integer.iter().chain(fraction).copied().collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
        power = power.saturating_add(1);
    }
    let leading = digits.iter().take_while(|&&b| b == b'0').count();
    digits.drain(..leading);
    if digits.is_empty() {
        return (false, digits, 0);
    }
    (negative, digits, power)
}

/// Matches `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?` against the
/// whole of `token`.
fn number_shape(token: &[u8]) -> Option<NumberShape> {
    fn digits_from(token: &[u8], from: usize) -> usize {
        token[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }
    let mut i = usize::from(token.first() == Some(&b'-'));
    let int_start = i;
    match token.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits_from(token, i),
        Some(_) | None => return None,
    }
    if token.get(i) == Some(&b'.') {
        let fraction = digits_from(token, i + 1);
        if fraction == 0 {
            return None;
        }
        i += 1 + fraction;
    }
    let significand_end = i;
    if let Some(b'e' | b'E') = token.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = token.get(i) {
            i += 1;
        }
        let exponent = digits_from(token, i);
        if exponent == 0 {
            return None;
        }
        i += exponent;
    }
    if i != token.len() {
        return None;
    }
    Some(NumberShape {
        significand_nonzero: token[int_start..significand_end]
            .iter()
            .any(|b| matches!(b, b'1'..=b'9')),
    })
}

/// A serializer that only looks for non-finite floats, because `serde_json`
/// turns them into `null` without complaint.
mod finite_check {
    use serde::ser::{self, Serialize};
    use std::fmt;

    /// Why the check stopped.
    #[derive(Debug)]
    pub(super) enum Refused {
        /// A NaN or infinite `f32`/`f64`.
        NonFinite,
        /// The value's own `Serialize` impl failed.
        Custom,
    }

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::NonFinite => f.write_str("number is not finite"),
                Self::Custom => f.write_str("serialize failed"),
            }
        }
    }

    impl std::error::Error for Refused {}

    impl ser::Error for Refused {
        fn custom<T: fmt::Display>(_msg: T) -> Self {
            Self::Custom
        }
    }

    /// Walks a value, checking every float.
    #[derive(Clone, Copy)]
    pub(super) struct FiniteCheck;

    type Checked = Result<(), Refused>;

    fn finite(value: f64) -> Checked {
        if value.is_finite() {
            Ok(())
        } else {
            Err(Refused::NonFinite)
        }
    }

    impl ser::Serializer for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        type SerializeSeq = Self;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Self;
        type SerializeMap = Self;
        type SerializeStruct = Self;
        type SerializeStructVariant = Self;

        fn serialize_bool(self, _v: bool) -> Checked {
            Ok(())
        }
        fn serialize_i8(self, _v: i8) -> Checked {
            Ok(())
        }
        fn serialize_i16(self, _v: i16) -> Checked {
            Ok(())
        }
        fn serialize_i32(self, _v: i32) -> Checked {
            Ok(())
        }
        fn serialize_i64(self, _v: i64) -> Checked {
            Ok(())
        }
        fn serialize_i128(self, _v: i128) -> Checked {
            Ok(())
        }
        fn serialize_u8(self, _v: u8) -> Checked {
            Ok(())
        }
        fn serialize_u16(self, _v: u16) -> Checked {
            Ok(())
        }
        fn serialize_u32(self, _v: u32) -> Checked {
            Ok(())
        }
        fn serialize_u64(self, _v: u64) -> Checked {
            Ok(())
        }
        fn serialize_u128(self, _v: u128) -> Checked {
            Ok(())
        }
        fn serialize_f32(self, v: f32) -> Checked {
            finite(f64::from(v))
        }
        fn serialize_f64(self, v: f64) -> Checked {
            finite(v)
        }
        fn serialize_char(self, _v: char) -> Checked {
            Ok(())
        }
        fn serialize_str(self, _v: &str) -> Checked {
            Ok(())
        }
        fn serialize_bytes(self, _v: &[u8]) -> Checked {
            Ok(())
        }
        fn serialize_none(self) -> Checked {
            Ok(())
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Checked {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Checked {
            Ok(())
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Checked {
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
        ) -> Checked {
            Ok(())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Checked {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            value: &T,
        ) -> Checked {
            value.serialize(self)
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_tuple(self, _len: usize) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, Refused> {
            Ok(self)
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self, Refused> {
            Ok(self)
        }
    }

    impl ser::SerializeSeq for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeTuple for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeTupleStruct for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeTupleVariant for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeMap for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Checked {
            key.serialize(*self)
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeStruct for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            _key: &'static str,
            value: &T,
        ) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }

    impl ser::SerializeStructVariant for FiniteCheck {
        type Ok = ();
        type Error = Refused;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            _key: &'static str,
            value: &T,
        ) -> Checked {
            value.serialize(*self)
        }
        fn end(self) -> Checked {
            Ok(())
        }
    }
}
