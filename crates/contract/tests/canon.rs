//! `theory_contract::canon`: RFC 8785 reference vectors, a node-generated
//! ECMAScript number table, property tests, and every parse error kind with
//! its position.
//!
//! Fixtures live in `fixtures/contract/canon/` (see `gen-numbers.js` there
//! for how `numbers.tsv` was made).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use theory_contract::canon::{
    CanonError, Json, MAX_DEPTH, ParseErrorKind, canonicalize, parse, to_canonical,
    to_canonical_serde, write_canonical_string,
};

/// 2^53, the largest integer literal magnitude `parse` accepts.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/contract/canon")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Canonical bytes of `input` as a string, panicking with the error.
fn canon_str(input: &[u8]) -> String {
    let bytes = canonicalize(input).unwrap_or_else(|e| {
        panic!(
            "canonicalize {:?}: {e}",
            String::from_utf8_lossy(input)
                .chars()
                .take(200)
                .collect::<String>()
        )
    });
    String::from_utf8(bytes).expect("canonical output is UTF-8")
}

fn number(bits: u64) -> String {
    let bytes = to_canonical(&Json::Number(f64::from_bits(bits))).expect("finite number");
    String::from_utf8(bytes).expect("canonical output is UTF-8")
}

// ---------------------------------------------------------------------------
// 1. RFC 8785 published vectors
// ---------------------------------------------------------------------------

/// The input/output pairs of the RFC's reference repository,
/// cyberphone/json-canonicalization `testdata/` (commit 19d51d7f), copied
/// byte for byte.
const REFERENCE_VECTORS: [&str; 6] = [
    "arrays",
    "french",
    "structures",
    "unicode",
    "values",
    "weird",
];

fn stems(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("json"),
                "{}",
                path.display()
            );
            path.file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn reference_vector_folders_hold_exactly_the_listed_pairs() {
    assert_eq!(stems(&fixtures().join("input")), REFERENCE_VECTORS);
    assert_eq!(stems(&fixtures().join("output")), REFERENCE_VECTORS);
}

#[test]
fn rfc8785_reference_vectors_match_byte_for_byte() {
    for name in REFERENCE_VECTORS {
        let input = read(&fixtures().join("input").join(format!("{name}.json")));
        let expected = read(&fixtures().join("output").join(format!("{name}.json")));
        let got = canonicalize(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        assert_eq!(got, expected, "{name}: bytes");
        // None of the outputs holds an integer beyond 2^53, so each is a
        // fixed point.
        assert_eq!(
            canonicalize(&expected).as_ref(),
            Ok(&expected),
            "{name}: fixed point"
        );
    }
}

/// RFC 8785 Appendix B: IEEE-754 bits and their expected serialization
/// (the NaN and Infinity rows are in `appendix_b_non_finite_rows_are_refused`).
const APPENDIX_B: [(u64, &str); 24] = [
    (0x0000_0000_0000_0000, "0"),
    (0x8000_0000_0000_0000, "0"),
    (0x0000_0000_0000_0001, "5e-324"),
    (0x8000_0000_0000_0001, "-5e-324"),
    (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
    (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
    (0x4340_0000_0000_0000, "9007199254740992"),
    (0xc340_0000_0000_0000, "-9007199254740992"),
    (0x4430_0000_0000_0000, "295147905179352830000"),
    (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
    (0x44b5_2d02_c7e1_4af6, "1e+23"),
    (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
    (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
    (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
    (0x444b_1ae4_d6e2_ef50, "1e+21"),
    (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
    (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
    (0x41b3_de43_5555_5553, "333333333.3333332"),
    (0x41b3_de43_5555_5554, "333333333.33333325"),
    (0x41b3_de43_5555_5555, "333333333.3333333"),
    (0x41b3_de43_5555_5556, "333333333.3333334"),
    (0x41b3_de43_5555_5557, "333333333.33333343"),
    (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
    (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
];

#[test]
fn appendix_b_numbers_serialize_as_the_rfc_lists() {
    for (bits, expected) in APPENDIX_B {
        assert_eq!(number(bits), expected, "{bits:016x}");
    }
}

#[test]
fn appendix_b_spellings_parse_back_to_the_same_double() {
    for (bits, spelling) in APPENDIX_B {
        let value = f64::from_bits(bits);
        match parse(spelling.as_bytes()) {
            Ok(Json::Number(parsed)) => assert_eq!(parsed, value, "{spelling}"),
            other => panic!("{spelling}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 2. The node-generated ECMAScript number table
// ---------------------------------------------------------------------------

#[test]
fn every_number_in_the_node_table_formats_as_ecmascript_does() {
    let path = fixtures().join("numbers.tsv");
    let text = String::from_utf8(read(&path)).expect("numbers.tsv is UTF-8");
    let mut checked = 0_usize;
    let mut big_integers = 0_usize;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let (hex, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("numbers.tsv:{line_no}: no tab"));
        assert_eq!(hex.len(), 16, "numbers.tsv:{line_no}");
        let bits =
            u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("numbers.tsv:{line_no}: {e}"));
        let value = f64::from_bits(bits);
        assert_eq!(number(bits), expected, "numbers.tsv:{line_no}: {hex}");

        // And back: the expected spelling parses to the same double, also
        // in (2^53, 1e21) where it is a plain integer literal.
        match parse(expected.as_bytes()) {
            Ok(Json::Number(parsed)) => assert!(
                parsed.to_bits() == bits || (value == 0.0 && parsed == 0.0),
                "numbers.tsv:{line_no}: {expected} parsed as {:016x}",
                parsed.to_bits()
            ),
            other => panic!("numbers.tsv:{line_no}: {expected}: {other:?}"),
        }
        if value.abs() > TWO_POW_53 && value.abs() < 1e21 {
            big_integers += 1;
        }
        checked += 1;
    }
    assert!(checked >= 45_000, "numbers.tsv has only {checked} lines");
    assert!(big_integers > 0, "the table covers the (2^53, 1e21) window");
}

// ---------------------------------------------------------------------------
// Strings and numbers, accepted
// ---------------------------------------------------------------------------

#[test]
fn strings_escape_exactly_as_rfc8785_section_3_2_2_2() {
    let expected_controls = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    for (code, expected) in (0_u8..0x20).zip(expected_controls) {
        let mut out = Vec::new();
        write_canonical_string(&mut out, &char::from(code).to_string());
        assert_eq!(out, format!("\"{expected}\"").as_bytes(), "U+{code:04X}");
        // The same through the parser, from an upper-case \u escape.
        let input = format!("\"\\u{code:04X}\"");
        assert_eq!(canon_str(input.as_bytes()), format!("\"{expected}\""));
    }
    let literal = "/ \u{7f} \u{80} \u{a0} \u{2028} \u{2029} \u{feff} \u{fffd} é € 😀 </script>";
    let mut out = Vec::new();
    write_canonical_string(&mut out, literal);
    assert_eq!(out, format!("\"{literal}\"").as_bytes());
    let mut out = Vec::new();
    write_canonical_string(&mut out, "a\"b\\c");
    assert_eq!(out, br#""a\"b\\c""#);
}

#[test]
fn escapes_decode_and_reencode_canonically() {
    let cases: [(&str, &str); 6] = [
        (r#""\/\"\\\b\f\n\r\t""#, r#""/\"\\\b\f\n\r\t""#),
        (r#""\u00E9\u00e9\u20AC""#, "\"éé€\""),
        (r#""\uD83D\uDE00\ud83d\ude00""#, "\"😀😀\""),
        (r#""\u007f\u2028""#, "\"\u{7f}\u{2028}\""),
        (r#""\u0000""#, r#""\u0000""#),
        ("\"A\u{30a}\"", "\"A\u{30a}\""), // no Unicode normalization
    ];
    for (input, expected) in cases {
        assert_eq!(canon_str(input.as_bytes()), expected, "{input}");
    }
}

#[test]
fn numbers_parse_strictly_and_format_as_ecmascript() {
    let cases: [(&str, &str); 22] = [
        ("0", "0"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("0e-400", "0"),
        ("-0.000e+999", "0"),
        ("1E30", "1e+30"),
        ("4.50", "4.5"),
        ("2e-3", "0.002"),
        ("0.000000000000000000000000001", "1e-27"),
        ("333333333.33333329", "333333333.3333333"),
        ("9007199254740992", "9007199254740992"),
        ("-9007199254740992", "-9007199254740992"),
        ("9007199254740994.0", "9007199254740994"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1e+21"),
        ("1e-7", "1e-7"),
        ("0.000001", "0.000001"),
        ("4.9e-324", "5e-324"),
        ("2.4703282292062328e-324", "5e-324"),
        ("1.7976931348623158e308", "1.7976931348623157e+308"),
        ("123456789012345678901234567890e-20", "1234567890.1234567"),
        ("1E+2", "100"),
    ];
    for (input, expected) in cases {
        assert_eq!(canon_str(input.as_bytes()), expected, "{input}");
    }
}

/// ECMAScript writes doubles in (2^53, 1e21) as plain integers; parse
/// accepts exactly those spellings, so canonical output is a fixed point,
/// while a literal a double cannot hold as written is refused.
#[test]
fn canonical_integers_beyond_2_pow_53_parse_back() {
    let canonical = canonicalize(b"1e20").expect("1e20 is an exact double");
    assert_eq!(canonical, b"100000000000000000000");
    assert_eq!(
        canonicalize(&canonical).expect("its own spelling"),
        canonical
    );
    for spelling in [
        "295147905179352830000",
        "-999999999999999700000",
        "10000000000000000",
    ] {
        let once = canonicalize(spelling.as_bytes()).expect(spelling);
        assert_eq!(once, spelling.as_bytes(), "{spelling}");
    }
    // One rule for plain notation, with or without a fraction: the value
    // decides. Exponent notation is an approximation and is rounded.
    for (spelling, canonical) in [
        ("9007199254740994.0", "9007199254740994"),
        ("9.007199254740994e15", "9007199254740994"),
        ("90071992547409930e-1", "9007199254740992"),
        ("1000000000000000000000", "1e+21"),
        ("1E30", "1e+30"),
        ("-1.50e300", "-1.5e+300"),
        ("1.2345678901234567891e300", "1.2345678901234568e+300"),
    ] {
        let once = canonicalize(spelling.as_bytes()).expect(spelling);
        assert_eq!(once, canonical.as_bytes(), "{spelling}");
    }
    for inexact in [
        "9007199254740993",
        "9007199254740993.0",
        "9007199254740993.5",
        "-9007199254740993.0",
        "295147905179352825856",
        "100000000000000000001",
    ] {
        let error = canonicalize(inexact.as_bytes()).expect_err(inexact);
        assert_eq!(error.kind, ParseErrorKind::IntegerBeyond2Pow53, "{inexact}");
    }
}

// ---------------------------------------------------------------------------
// 4. Every parse error kind, with its position
// ---------------------------------------------------------------------------

/// Every kind, kept complete by the exhaustive match in `kind_index`.
const ALL_KINDS: [ParseErrorKind; 22] = [
    ParseErrorKind::EmptyInput,
    ParseErrorKind::InvalidUtf8,
    ParseErrorKind::ByteOrderMark,
    ParseErrorKind::UnexpectedEnd,
    ParseErrorKind::ExpectedValue,
    ParseErrorKind::InvalidLiteral,
    ParseErrorKind::ExpectedCommaOrBracket,
    ParseErrorKind::ExpectedCommaOrBrace,
    ParseErrorKind::ExpectedMemberName,
    ParseErrorKind::ExpectedColon,
    ParseErrorKind::TrailingCharacters,
    ParseErrorKind::DuplicateMemberName,
    ParseErrorKind::UnterminatedString,
    ParseErrorKind::ControlCharacterInString,
    ParseErrorKind::InvalidEscape,
    ParseErrorKind::InvalidUnicodeEscape,
    ParseErrorKind::LoneSurrogate,
    ParseErrorKind::InvalidNumber,
    ParseErrorKind::NumberOverflow,
    ParseErrorKind::NumberUnderflow,
    ParseErrorKind::IntegerBeyond2Pow53,
    ParseErrorKind::NestingTooDeep,
];

/// Position of `kind` in `ALL_KINDS`; a new kind fails to compile here.
const fn kind_index(kind: ParseErrorKind) -> usize {
    match kind {
        ParseErrorKind::EmptyInput => 0,
        ParseErrorKind::InvalidUtf8 => 1,
        ParseErrorKind::ByteOrderMark => 2,
        ParseErrorKind::UnexpectedEnd => 3,
        ParseErrorKind::ExpectedValue => 4,
        ParseErrorKind::InvalidLiteral => 5,
        ParseErrorKind::ExpectedCommaOrBracket => 6,
        ParseErrorKind::ExpectedCommaOrBrace => 7,
        ParseErrorKind::ExpectedMemberName => 8,
        ParseErrorKind::ExpectedColon => 9,
        ParseErrorKind::TrailingCharacters => 10,
        ParseErrorKind::DuplicateMemberName => 11,
        ParseErrorKind::UnterminatedString => 12,
        ParseErrorKind::ControlCharacterInString => 13,
        ParseErrorKind::InvalidEscape => 14,
        ParseErrorKind::InvalidUnicodeEscape => 15,
        ParseErrorKind::LoneSurrogate => 16,
        ParseErrorKind::InvalidNumber => 17,
        ParseErrorKind::NumberOverflow => 18,
        ParseErrorKind::NumberUnderflow => 19,
        ParseErrorKind::IntegerBeyond2Pow53 => 20,
        ParseErrorKind::NestingTooDeep => 21,
    }
}

/// Input, expected kind, line, column.
type Negative = (&'static [u8], ParseErrorKind, usize, usize);

const NEGATIVES: &[Negative] = &[
    (b"", ParseErrorKind::EmptyInput, 1, 1),
    (b"  \n \t\r\n", ParseErrorKind::EmptyInput, 3, 1),
    (b"[\"a\xff\"]", ParseErrorKind::InvalidUtf8, 1, 4),
    (b"{\n\"a\":\"\xc3\"}", ParseErrorKind::InvalidUtf8, 2, 6),
    (b"\"\xed\xa0\x80\"", ParseErrorKind::InvalidUtf8, 1, 2), // UTF-8-encoded surrogate
    (b"\xc0\xaf", ParseErrorKind::InvalidUtf8, 1, 1),         // overlong '/'
    (b"\xEF\xBB\xBF{}", ParseErrorKind::ByteOrderMark, 1, 1),
    (b"\xEF\xBB\xBF", ParseErrorKind::ByteOrderMark, 1, 1),
    (b"[1,", ParseErrorKind::UnexpectedEnd, 1, 4),
    (b"[1", ParseErrorKind::UnexpectedEnd, 1, 3),
    (b"[", ParseErrorKind::UnexpectedEnd, 1, 2),
    (b"{\"a\"", ParseErrorKind::UnexpectedEnd, 1, 5),
    (b"{\"a\":", ParseErrorKind::UnexpectedEnd, 1, 6),
    (b"{\"a\":1\n", ParseErrorKind::UnexpectedEnd, 2, 1),
    (b"{", ParseErrorKind::UnexpectedEnd, 1, 2),
    (b"]", ParseErrorKind::ExpectedValue, 1, 1),
    (b"[1,]", ParseErrorKind::ExpectedValue, 1, 4),
    (b"[,1]", ParseErrorKind::ExpectedValue, 1, 2),
    (b"{\"a\":}", ParseErrorKind::ExpectedValue, 1, 6),
    (b"\xc2\xa0[]", ParseErrorKind::ExpectedValue, 1, 1), // NBSP is not JSON whitespace
    (b"'a'", ParseErrorKind::ExpectedValue, 1, 1),
    (b"tru", ParseErrorKind::InvalidLiteral, 1, 1),
    (b"[nul]", ParseErrorKind::InvalidLiteral, 1, 2),
    (b"True", ParseErrorKind::InvalidLiteral, 1, 1),
    (b"NaN", ParseErrorKind::InvalidLiteral, 1, 1),
    (b"Infinity", ParseErrorKind::InvalidLiteral, 1, 1),
    (b"[truex]", ParseErrorKind::InvalidLiteral, 1, 2),
    (b"[1 2]", ParseErrorKind::ExpectedCommaOrBracket, 1, 4),
    (b"[1}", ParseErrorKind::ExpectedCommaOrBracket, 1, 3),
    (
        b"{\"a\":1 \"b\":2}",
        ParseErrorKind::ExpectedCommaOrBrace,
        1,
        8,
    ),
    (b"{\"a\":1]", ParseErrorKind::ExpectedCommaOrBrace, 1, 7),
    (b"{1:2}", ParseErrorKind::ExpectedMemberName, 1, 2),
    (b"{\"a\":1,}", ParseErrorKind::ExpectedMemberName, 1, 8),
    (b"{'a':1}", ParseErrorKind::ExpectedMemberName, 1, 2),
    (b"{\"a\" 1}", ParseErrorKind::ExpectedColon, 1, 6),
    (b"{\"a\"=1}", ParseErrorKind::ExpectedColon, 1, 5),
    (b"{} x", ParseErrorKind::TrailingCharacters, 1, 4),
    (b"1 2", ParseErrorKind::TrailingCharacters, 1, 3),
    (b"{}}", ParseErrorKind::TrailingCharacters, 1, 3),
    (b"null\x00", ParseErrorKind::TrailingCharacters, 1, 5),
    (b"0x10", ParseErrorKind::TrailingCharacters, 1, 2),
    (b"[]\n\n  //", ParseErrorKind::TrailingCharacters, 3, 3),
    (
        b"{\"a\":1,\"b\":2,\"a\":3}",
        ParseErrorKind::DuplicateMemberName,
        1,
        14,
    ),
    (
        b"{\"a\":1,\"\\u0061\":2}",
        ParseErrorKind::DuplicateMemberName,
        1,
        8,
    ),
    (
        b"[{}, {\"x\":{\"x\":1}, \"x\":2}]",
        ParseErrorKind::DuplicateMemberName,
        1,
        20,
    ),
    (b"\"abc", ParseErrorKind::UnterminatedString, 1, 1),
    (b"[\"ab\\", ParseErrorKind::UnterminatedString, 1, 2),
    (b"{\"a", ParseErrorKind::UnterminatedString, 1, 2),
    (b"\"a\tb\"", ParseErrorKind::ControlCharacterInString, 1, 3),
    (b"\"a\nb\"", ParseErrorKind::ControlCharacterInString, 1, 3),
    (b"\"\x00\"", ParseErrorKind::ControlCharacterInString, 1, 2),
    (b"\"\x1f\"", ParseErrorKind::ControlCharacterInString, 1, 2),
    (b"\"\\x\"", ParseErrorKind::InvalidEscape, 1, 2),
    (b"\"\\U0041\"", ParseErrorKind::InvalidEscape, 1, 2),
    (b"\"\\'\"", ParseErrorKind::InvalidEscape, 1, 2),
    (b"\"ab\\0\"", ParseErrorKind::InvalidEscape, 1, 4),
    (b"\"\\u12\"", ParseErrorKind::InvalidUnicodeEscape, 1, 2),
    (b"\"\\u12G4\"", ParseErrorKind::InvalidUnicodeEscape, 1, 2),
    (b"\"\\u", ParseErrorKind::InvalidUnicodeEscape, 1, 2),
    (b"\"\\u+123\"", ParseErrorKind::InvalidUnicodeEscape, 1, 2),
    (
        b"\"\\uD800\\u00\"",
        ParseErrorKind::InvalidUnicodeEscape,
        1,
        8,
    ),
    (b"\"\\uD800\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"\\uDC00\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"a\\uDFFFb\"", ParseErrorKind::LoneSurrogate, 1, 3),
    (b"\"\\uD800\\u0041\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"\\uD800\\uD800\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"\\ud83d x\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"\\uD800\\n\"", ParseErrorKind::LoneSurrogate, 1, 2),
    (b"\"\\uDE00\\uD83D\"", ParseErrorKind::LoneSurrogate, 1, 2), // pair in the wrong order
    (b"{\"\\udc00\":1}", ParseErrorKind::LoneSurrogate, 1, 3),
    (b"01", ParseErrorKind::InvalidNumber, 1, 1),
    (b"-01", ParseErrorKind::InvalidNumber, 1, 1),
    (b"00", ParseErrorKind::InvalidNumber, 1, 1),
    (b"+1", ParseErrorKind::InvalidNumber, 1, 1),
    (b".5", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1.", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1.e5", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1e", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1E+", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1e5.0", ParseErrorKind::InvalidNumber, 1, 1),
    (b"-", ParseErrorKind::InvalidNumber, 1, 1),
    (b"--1", ParseErrorKind::InvalidNumber, 1, 1),
    (b"- 1", ParseErrorKind::InvalidNumber, 1, 1),
    (b"-Infinity", ParseErrorKind::InvalidNumber, 1, 1),
    (b"1.5.2", ParseErrorKind::InvalidNumber, 1, 1),
    (b"[1-2]", ParseErrorKind::InvalidNumber, 1, 2),
    (b"[\n  1,\n  2e+-1\n]", ParseErrorKind::InvalidNumber, 3, 3),
    (b"1e309", ParseErrorKind::NumberOverflow, 1, 1),
    (b"[-1e400]", ParseErrorKind::NumberOverflow, 1, 2),
    (
        b"1.7976931348623159e308",
        ParseErrorKind::NumberOverflow,
        1,
        1,
    ),
    (
        b"1e99999999999999999999",
        ParseErrorKind::NumberOverflow,
        1,
        1,
    ),
    (b"1e-400", ParseErrorKind::NumberUnderflow, 1, 1),
    (b"[0.1e-330]", ParseErrorKind::NumberUnderflow, 1, 2),
    (
        b"-2.4703282292062327e-324",
        ParseErrorKind::NumberUnderflow,
        1,
        1,
    ),
    (
        b"0.00001e-99999999999999999999",
        ParseErrorKind::NumberUnderflow,
        1,
        1,
    ),
    (
        b"9007199254740993",
        ParseErrorKind::IntegerBeyond2Pow53,
        1,
        1,
    ),
    (
        b"-9007199254740993",
        ParseErrorKind::IntegerBeyond2Pow53,
        1,
        1,
    ),
    (
        b"18446744073709551615",
        ParseErrorKind::IntegerBeyond2Pow53,
        1,
        1,
    ),
    (
        b"9007199254740995",
        ParseErrorKind::IntegerBeyond2Pow53,
        1,
        1,
    ),
    (
        b"{\n \"id\": 12345678901234567890}",
        ParseErrorKind::IntegerBeyond2Pow53,
        2,
        8,
    ),
];

#[test]
fn every_negative_case_fails_with_its_kind_and_position() {
    for &(input, kind, line, column) in NEGATIVES {
        let shown = String::from_utf8_lossy(input);
        let error = parse(input).expect_err(&format!("{shown:?} must fail"));
        assert_eq!(
            (error.kind, error.line, error.column),
            (kind, line, column),
            "{shown:?}: got {error}"
        );
        assert_eq!(canonicalize(input).as_ref(), Err(&error), "{shown:?}");
    }
}

#[test]
fn every_error_kind_has_a_negative_case_and_a_unique_code() {
    let mut seen = [false; ALL_KINDS.len()];
    for &(_, kind, _, _) in NEGATIVES {
        seen[kind_index(kind)] = true;
    }
    // NestingTooDeep is covered by its own tests below.
    seen[kind_index(ParseErrorKind::NestingTooDeep)] = true;
    for (kind, covered) in ALL_KINDS.iter().zip(seen) {
        assert!(covered, "{kind:?} has no negative case");
    }
    let mut codes: Vec<&str> = ALL_KINDS.iter().map(|kind| kind.code()).collect();
    for (i, kind) in ALL_KINDS.iter().enumerate() {
        assert_eq!(kind_index(*kind), i);
        assert!(
            kind.code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{kind:?}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ALL_KINDS.len(), "codes are unique");
}

#[test]
fn error_display_is_line_colon_column_message() {
    let input = b"{\n  \"a\": 1,\n  \"bcdef\": 2 \"x\"}";
    let error = parse(input).expect_err("missing comma");
    assert_eq!(error.to_string(), "3:14: expected ',' or '}'");
    assert_eq!(error.offset, 25);
    let error = parse(b"[1, 9007199254740993]").expect_err("too large");
    assert_eq!(
        error.to_string(),
        "1:5: integer beyond 2^53 cannot be represented exactly"
    );
}

#[test]
fn columns_count_bytes_not_characters() {
    // "é" is two bytes, so the stray `?` is at byte column 8.
    let error = parse("[\"é\", ?]".as_bytes()).expect_err("? is no value");
    assert_eq!(
        (error.kind, error.line, error.column),
        (ParseErrorKind::ExpectedValue, 1, 8)
    );
}

#[test]
fn nesting_to_max_depth_is_accepted() {
    let arrays = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(canon_str(arrays.as_bytes()), arrays);
    let objects = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    assert_eq!(canon_str(objects.as_bytes()), objects);
}

#[test]
fn nesting_beyond_max_depth_is_refused_at_the_opening_bracket() {
    let cases: [(String, usize); 4] = [
        (format!("{}{}", "[".repeat(129), "]".repeat(129)), 129),
        (
            format!("{}{}", "[".repeat(128), "[]".to_owned() + &"]".repeat(128)),
            129,
        ),
        (
            format!("{}1{}", "{\"a\":".repeat(129), "}".repeat(129)),
            128 * 5 + 1,
        ),
        (
            format!("{}{{}}{}", "[{\"k\":".repeat(64), "}]".repeat(64)),
            64 * 6 + 1,
        ),
    ];
    for (input, column) in cases {
        let error = parse(input.as_bytes()).expect_err("too deep");
        assert_eq!(
            (error.kind, error.line, error.column),
            (ParseErrorKind::NestingTooDeep, 1, column),
            "{}",
            &input[..20]
        );
    }
}

#[test]
fn a_megabyte_of_open_brackets_is_an_error_not_a_stack_overflow() {
    for open in [b"[".as_slice(), b"{\"a\":", b"[{\"\":"] {
        let input = open.repeat((1 << 20) / open.len());
        let error = parse(&input).expect_err("too deep");
        assert_eq!(error.kind, ParseErrorKind::NestingTooDeep);
        assert_eq!(error.line, 1);
    }
}

// ---------------------------------------------------------------------------
// to_canonical and to_canonical_serde
// ---------------------------------------------------------------------------

#[test]
fn to_canonical_refuses_what_parse_never_produces() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let nested = Json::Array(vec![Json::Object(vec![("x".into(), Json::Number(bad))])]);
        assert!(matches!(
            to_canonical(&nested),
            Err(CanonError::NonFiniteNumber)
        ));
    }
    let duplicate = Json::Object(vec![
        ("b".into(), Json::Null),
        ("a".into(), Json::Bool(true)),
        ("b".into(), Json::Bool(false)),
    ]);
    match to_canonical(&duplicate) {
        Err(CanonError::DuplicateMemberName { name }) => assert_eq!(name, "b"),
        other => panic!("{other:?}"),
    }
    let mut deep = Json::Null;
    for _ in 0..MAX_DEPTH {
        deep = Json::Array(vec![deep]);
    }
    assert!(to_canonical(&deep).is_ok());
    let too_deep = Json::Object(vec![("a".into(), deep)]);
    assert!(matches!(
        to_canonical(&too_deep),
        Err(CanonError::NestingTooDeep)
    ));
}

#[test]
fn to_canonical_writes_values_as_rfc8785() {
    let value = Json::Object(vec![
        ("s".into(), Json::String("\u{1}\"\u{7f}".into())),
        ("n".into(), Json::Number(-0.0)),
        (
            "a".into(),
            Json::Array(vec![Json::Null, Json::Bool(true), Json::Bool(false)]),
        ),
        ("f".into(), Json::Number(1e21)),
        ("big".into(), Json::Number(1e20)),
    ]);
    let bytes = to_canonical(&value).expect("canonical");
    assert_eq!(
        String::from_utf8(bytes).expect("UTF-8"),
        "{\"a\":[null,true,false],\"big\":100000000000000000000,\"f\":1e+21,\"n\":0,\"s\":\"\\u0001\\\"\u{7f}\"}"
    );
}

#[derive(serde::Serialize)]
struct Sample {
    zeta: Vec<f64>,
    alpha: Option<String>,
    map: HashMap<String, u64>,
    small: f32,
    kind: Kind,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Tagged { x: i64 },
}

fn sample() -> Sample {
    Sample {
        zeta: vec![1.0, 0.5, -0.0, 1e-7],
        alpha: None,
        map: HashMap::from([("\u{e000}".to_owned(), 2), ("\u{10000}".to_owned(), 1)]),
        small: 0.1,
        kind: Kind::Tagged {
            x: -9_007_199_254_740_992,
        },
    }
}

#[test]
fn to_canonical_serde_sorts_and_formats() {
    let bytes = to_canonical_serde(&sample()).expect("canonical");
    assert_eq!(
        String::from_utf8(bytes).expect("UTF-8"),
        "{\"alpha\":null,\"kind\":{\"tagged\":{\"x\":-9007199254740992}},\
         \"map\":{\"\u{10000}\":1,\"\u{e000}\":2},\"small\":0.1,\"zeta\":[1,0.5,0,1e-7]}"
    );
}

#[test]
fn to_canonical_serde_refuses_non_finite_floats_instead_of_writing_null() {
    let mut with_nan = sample();
    with_nan.zeta.push(f64::NAN);
    assert!(matches!(
        to_canonical_serde(&with_nan),
        Err(CanonError::NonFiniteNumber)
    ));
    let mut with_inf = sample();
    with_inf.small = f32::INFINITY;
    assert!(matches!(
        to_canonical_serde(&with_inf),
        Err(CanonError::NonFiniteNumber)
    ));
    let in_map = BTreeMap::from([("k", vec![Some(f64::NEG_INFINITY)])]);
    assert!(matches!(
        to_canonical_serde(&in_map),
        Err(CanonError::NonFiniteNumber)
    ));
}

#[test]
fn to_canonical_serde_refuses_integers_beyond_2_pow_53_and_serde_failures() {
    match to_canonical_serde(&[u64::MAX]) {
        Err(CanonError::Parse(e)) => {
            assert_eq!(
                (e.kind, e.line, e.column),
                (ParseErrorKind::IntegerBeyond2Pow53, 1, 2)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(to_canonical_serde(&[9_007_199_254_740_992_u64]).is_ok());
    let tuple_keys = BTreeMap::from([((1, 2), 3)]);
    assert!(matches!(
        to_canonical_serde(&tuple_keys),
        Err(CanonError::Serialize(_))
    ));
}

// ---------------------------------------------------------------------------
// 3. Properties
// ---------------------------------------------------------------------------

/// Finite doubles, including (2^53, 1e21) where the canonical spelling is a
/// plain integer (see `canonical_integers_beyond_2_pow_53_parse_back`).
fn arb_number() -> impl Strategy<Value = f64> {
    let round_trips = |x: &f64| x.is_finite();
    prop_oneof![
        any::<i32>().prop_map(f64::from),
        (-TWO_POW_53..=TWO_POW_53).prop_map(f64::trunc),
        any::<u64>().prop_map(f64::from_bits),
        prop::num::f64::POSITIVE
            | prop::num::f64::NEGATIVE
            | prop::num::f64::NORMAL
            | prop::num::f64::SUBNORMAL
            | prop::num::f64::ZERO,
        (1e-8..1e22_f64),
    ]
    .prop_filter("finite and parses back", round_trips)
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-c\\x00-\\x1f\"\\\\/\\x7f\u{80}\u{2028}\u{e000}\u{fb33}\u{ffff}\u{10000}\u{1f600}\u{10ffff}é€]{0,6}",
    ]
}

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        arb_number().prop_map(Json::Number),
        arb_string().prop_map(Json::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            prop::collection::btree_map(arb_string(), inner, 0..8)
                .prop_map(|members| members.into_iter().collect::<Vec<_>>())
                .prop_shuffle()
                .prop_map(Json::Object),
        ]
    })
}

/// SplitMix64, the noise source of `Noisy`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n")
    }
}

/// Writes a value the way a sloppy but valid producer might: members in any
/// order, whitespace anywhere, escapes for any character, numbers in other
/// spellings.
struct Noisy {
    rng: Rng,
    out: String,
}

impl Noisy {
    fn space(&mut self) {
        for _ in 0..self.rng.below(3) {
            self.out.push([' ', '\t', '\n', '\r'][self.rng.below(4)]);
        }
    }

    fn value(&mut self, value: &Json) {
        self.space();
        match value {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Number(x) => self.number(*x),
            Json::String(s) => self.string(s),
            Json::Array(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.space();
                self.out.push(']');
            }
            Json::Object(members) => {
                let mut order: Vec<&(String, Json)> = members.iter().collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, self.rng.below(i + 1));
                }
                self.out.push('{');
                for (i, (name, member)) in order.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.space();
                    self.string(name);
                    self.space();
                    self.out.push(':');
                    self.value(member);
                }
                self.space();
                self.out.push('}');
            }
        }
        self.space();
    }

    fn number(&mut self, x: f64) {
        match self.rng.below(4) {
            0 => self.out.push_str(ryu_js::Buffer::new().format_finite(x)),
            1 => self.out.push_str(&format!("{x:?}")),
            2 => self.out.push_str(&format!("{x:E}")),
            _ => {
                // Shortest digits, then a padded fraction and exponent.
                let exp_form = format!("{x:e}");
                let (mantissa, exponent) = exp_form.split_once('e').expect("LowerExp has an e");
                let mantissa = if mantissa.contains('.') {
                    format!("{mantissa}00")
                } else {
                    format!("{mantissa}.0")
                };
                let (sign, digits) = match exponent.strip_prefix('-') {
                    Some(digits) => ("-", digits),
                    None => ("+", exponent),
                };
                self.out.push_str(&format!("{mantissa}e{sign}00{digits}"));
            }
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            let may_be_literal = c >= ' ' && c != '"' && c != '\\';
            if may_be_literal && self.rng.below(3) != 0 {
                self.out.push(c);
                continue;
            }
            let short = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '/' => Some("\\/"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            if let Some(short) = short.filter(|_| self.rng.below(2) == 0) {
                self.out.push_str(short);
                continue;
            }
            let mut units = [0_u16; 2];
            for unit in c.encode_utf16(&mut units) {
                if self.rng.below(2) == 0 {
                    self.out.push_str(&format!("\\u{unit:04x}"));
                } else {
                    self.out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        self.out.push('"');
    }
}

fn noisy(value: &Json, seed: u64) -> String {
    let mut writer = Noisy {
        rng: Rng(seed),
        out: String::new(),
    };
    writer.value(value);
    writer.out
}

/// Every token the parser knows, and some it refuses, so random sequences
/// reach deep into it.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    " ",
    "\n",
    "\"",
    "\\",
    "\"a\"",
    "\"a\":",
    "{\"a\":",
    "\"\\u",
    "d800",
    "\\ud83d",
    "\\ude00",
    "\\n",
    "0",
    "1",
    "-",
    ".",
    "e",
    "E",
    "+",
    "9007199254740993",
    "1e400",
    "1e-400",
    "true",
    "false",
    "null",
    "nul",
    "\u{1f600}",
    "\u{0}",
    "\u{7f}",
    "x",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..200)
        .prop_map(|tokens| tokens.concat().into_bytes())
}

/// If `input` canonicalizes, its canonical form canonicalizes to itself.
fn assert_idempotent_if_accepted(input: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(canonical) = canonicalize(input) {
        match canonicalize(&canonical) {
            Ok(again) => prop_assert_eq!(again, canonical),
            Err(other) => prop_assert!(false, "canonical form refused: {other}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_form_is_a_fixed_point(value in arb_json()) {
        let canonical = to_canonical(&value).expect("generated values are canonicalizable");
        let again = canonicalize(&canonical);
        prop_assert_eq!(again.as_ref(), Ok(&canonical));
        let reparsed = parse(&canonical).expect("canonical form parses");
        prop_assert_eq!(to_canonical(&reparsed).expect("canonical"), canonical);
    }

    #[test]
    fn order_whitespace_escapes_and_number_spelling_do_not_change_canonical_bytes(
        value in arb_json(),
        seed in any::<u64>(),
    ) {
        let expected = to_canonical(&value).expect("generated values are canonicalizable");
        let text = noisy(&value, seed);
        let got = canonicalize(text.as_bytes());
        prop_assert_eq!(got.as_ref(), Ok(&expected), "noisy input: {}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_idempotent_if_accepted(&input)?;
    }

    #[test]
    fn json_token_soup_never_panics(input in token_soup()) {
        assert_idempotent_if_accepted(&input)?;
    }
}
