//! The shape of one server frame's text (CONTRACT.md §6): `{kind,
//! content}` exactly, a server-side kind, and the raw bytes of `content`
//! (the `RunResult` envelope is kept byte for byte as received).
//!
//! **Invariant:** pure functions over bytes; no IO, no state.

use std::ops::Range;

use theory_contract::FrameKind;
use theory_contract::canon::{self, Json};

/// A frame's text as JSON, for its kind and shape. The frame is read
/// strictly, except the `content` of a progress frame (`Ack`, `Token`,
/// `Frame`, `Log`, `Event`), which need only be JSON (RFC 8259): it is
/// free-form, recorded and never validated (CONTRACT.md §6), so an integer
/// beyond 2^53 in a `Log` is no protocol break. Such a content is read as
/// `null`. A `RunResult`'s content is the envelope, strict as the rest.
///
/// # Errors
///
/// The strict parser's error when the text is not JSON, when what it
/// refuses lies outside `content`, or when the frame is no progress frame.
pub(super) fn parse_frame(text: &[u8]) -> Result<Json, canon::ParseError> {
    canon::parse(text).or_else(|strict| {
        let lenient = || {
            serde_json::from_slice::<serde::de::IgnoredAny>(text).ok()?;
            let span = content_span(text)?;
            let outer = [&text[..span.start], b"null", &text[span.end..]].concat();
            let frame = canon::parse(&outer).ok()?;
            let progress = frame_shape(&frame)
                .0
                .and_then(server_kind)
                .is_some_and(|kind| kind != FrameKind::RunResult);
            progress.then_some(frame)
        };
        lenient().ok_or(strict)
    })
}

/// The frame's `kind` (when a string) and whether it is `{kind, content}` exactly.
pub(super) fn frame_shape(value: &Json) -> (Option<&str>, Result<(), String>) {
    let Json::Object(members) = value else {
        return (None, Err("not an object".to_owned()));
    };
    let kind = members.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("kind", Json::String(s)) => Some(s.as_str()),
        _ => None,
    });
    let has = |name: &str| members.iter().any(|(k, _)| k == name);
    let extra: Vec<&str> = members
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "kind" && *k != "content")
        .collect();
    let shape = if kind.is_none() {
        Err(if has("kind") {
            "kind is not a string".to_owned()
        } else {
            "no kind".to_owned()
        })
    } else if !has("content") {
        Err("no content".to_owned())
    } else if let Some(first) = extra.first() {
        Err(format!(
            "unknown member {:?}",
            theory_contract::text::head(first, 64)
        ))
    } else {
        Ok(())
    };
    (kind, shape)
}

/// The server-side kinds; `RunOpen` is the client's only.
pub(super) fn server_kind(name: &str) -> Option<FrameKind> {
    [
        FrameKind::Ack,
        FrameKind::Token,
        FrameKind::Frame,
        FrameKind::Log,
        FrameKind::Event,
        FrameKind::RunResult,
    ]
    .into_iter()
    .find(|k| k.as_str() == name)
}

/// The byte span of the top-level `content` member's value in `text`, which
/// must already be a valid JSON object (strictly parsed).
pub(super) fn content_span(text: &[u8]) -> Option<Range<usize>> {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(text, i);
        match text.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let key_end = skip_string(text, i)?;
        let key: String = serde_json::from_slice(&text[i..key_end]).ok()?;
        i = skip_ws(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(text, i + 1);
        let value_end = skip_value(text, i)?;
        if key == "content" {
            return Some(i..value_end);
        }
        i = value_end;
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the string starting at `i`.
fn skip_string(text: &[u8], i: usize) -> Option<usize> {
    if text.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match text.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The end (exclusive) of the value starting at `i`.
fn skip_value(text: &[u8], i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' => skip_string(text, i),
        b'{' | b'[' => {
            let mut depth = 0_usize;
            let mut j = i;
            loop {
                match text.get(j)? {
                    b'"' => {
                        j = skip_string(text, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while !matches!(
                text.get(j),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use theory_contract::canon;

    fn span(text: &str) -> Option<&str> {
        content_span(text.as_bytes()).map(|r| &text[r])
    }

    #[test]
    fn content_span_finds_the_raw_value_in_any_member_order() {
        assert_eq!(
            span(r#"{"kind":"RunResult","content":{"a":[1,"}"]}}"#),
            Some(r#"{"a":[1,"}"]}"#)
        );
        assert_eq!(
            span(r#"{ "content" : [ {"x":"\"]"} ] , "kind":"RunResult"}"#),
            Some(r#"[ {"x":"\"]"} ]"#)
        );
        assert_eq!(span(r#"{"kind":"Log","content":12.5e3}"#), Some("12.5e3"));
        assert_eq!(span(r#"{"kind":"Log","\u0063ontent":null}"#), Some("null"));
        assert_eq!(span(r#"{"kind":"Log"}"#), None);
    }

    #[test]
    fn progress_content_need_only_be_json_and_the_frame_itself_is_strict() {
        let kind = |text: &str| {
            let value = parse_frame(text.as_bytes()).map_err(|e| e.to_string())?;
            Ok::<_, String>(frame_shape(&value).0.map(str::to_owned))
        };
        // A nanosecond clock reading in progress content is JSON.
        assert_eq!(
            kind(r#"{"content":{"ts_ns":1733230123456789012},"kind":"Log"}"#),
            Ok(Some("Log".to_owned()))
        );
        assert_eq!(
            kind(r#"{"kind":"Ack","content":[1e400]}"#),
            Ok(Some("Ack".to_owned()))
        );
        // The envelope, and everything outside a progress content, is
        // strict; not JSON is not JSON.
        assert!(
            kind(r#"{"kind":"RunResult","content":{"n":9007199254740993}}"#)
                .expect_err("strict")
                .contains("2^53")
        );
        assert!(kind(r#"{"kind":"Nope","content":{"n":9007199254740993}}"#).is_err());
        assert!(
            kind(r#"{"kind":"Log","content":{},"n":9007199254740993}"#)
                .expect_err("strict")
                .contains("2^53")
        );
        assert!(kind(r#"{"kind":"Log","kind":"Ack","content":1}"#).is_err());
        assert!(kind(r#"{"kind":"Log","content":{"a":}}"#).is_err());
        assert!(kind("hello").is_err());
    }

    #[test]
    fn frame_shape_names_what_is_wrong() {
        let check = |text: &str| {
            let value = canon::parse(text.as_bytes()).map_err(|e| e.to_string())?;
            let (_, shape) = frame_shape(&value);
            shape
        };
        assert_eq!(check(r#"{"kind":"Ack","content":{}}"#), Ok(()));
        assert_eq!(check(r#"{"kind":"Ack"}"#), Err("no content".to_owned()));
        assert_eq!(
            check(r#"{"kind":1,"content":{}}"#),
            Err("kind is not a string".to_owned())
        );
        assert_eq!(
            check(r#"{"kind":"Ack","content":{},"x":1}"#),
            Err("unknown member \"x\"".to_owned())
        );
        assert_eq!(check("[1]"), Err("not an object".to_owned()));
    }

    #[test]
    fn run_open_is_not_a_server_kind() {
        assert_eq!(server_kind("RunResult"), Some(FrameKind::RunResult));
        assert_eq!(server_kind("RunOpen"), None);
        assert_eq!(server_kind("Progress"), None);
    }
}
