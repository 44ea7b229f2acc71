//! Reading an answer's JSON: members, strings, the status as a phrase, the
//! shape.

use theory_contract::canon::{self, Json};

use crate::adapter::Exchange;

/// The answer's JSON, or why there is none.
pub(super) fn answer_doc(exchange: &Exchange) -> Result<Json, String> {
    match &exchange.outcome {
        Ok(answer) => answer
            .canonical
            .as_deref()
            .and_then(|c| canon::parse(c).ok())
            .ok_or_else(|| "the answer is not strict JSON (envelope.not_json)".to_owned()),
        Err(e) => Err(format!("no envelope: {e}")),
    }
}

/// The member at `path`.
pub(super) fn member<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(doc, |value, key| match value {
        Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) | Json::Array(_) => None,
    })
}

/// The string at `path`.
pub(super) fn string_at<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a str> {
    match member(doc, path) {
        Some(Json::String(s)) => Some(s),
        Some(Json::Null | Json::Bool(_) | Json::Number(_) | Json::Array(_) | Json::Object(_))
        | None => None,
    }
}

/// `status`, and `error.code` for an error envelope, as one phrase.
pub(super) fn status_phrase(doc: &Json) -> String {
    match (
        string_at(doc, &["status"]),
        string_at(doc, &["error", "code"]),
    ) {
        (Some("error"), Some(code)) => format!("an error envelope {code}"),
        (Some(status), _) => format!("a {status:?} envelope"),
        (None, _) => "an envelope without status".to_owned(),
    }
}

/// The JSON pointers of every member and element (the envelope's shape),
/// without `meta.stderr_tail`.
pub(super) fn shape(doc: &Json) -> Vec<String> {
    fn walk(value: &Json, at: &str, out: &mut Vec<String>) {
        match value {
            Json::Object(members) => {
                for (key, item) in members {
                    let here = format!("{at}/{}", theory_contract::pointer_token(key));
                    if here == "/meta/stderr_tail" {
                        continue;
                    }
                    out.push(here.clone());
                    walk(item, &here, out);
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{at}/{i}");
                    out.push(here.clone());
                    walk(item, &here, out);
                }
            }
            Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn shape_ignores_values_and_stderr_tail() {
        let a =
            canon::parse(br#"{"a":{"b":1,"stderr_tail":"x"},"meta":{"stderr_tail":"y","z":1}}"#)
                .unwrap();
        let b = canon::parse(br#"{"a":{"b":2,"stderr_tail":"q"},"meta":{"z":3}}"#).unwrap();
        assert_eq!(shape(&a), shape(&b));
    }
}
