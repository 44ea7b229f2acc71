//! Redaction, the one step every log line, report and stored text passes
//! through before it leaves the process (CONTRACT.md §10).
//!
//! What is redacted: the values of secrets registered with [`register`]
//! (secret environment variables a processor declares, proxy tokens), the
//! query string of any URL that carries a signature or credential
//! (presigned URLs), and the value after `Modal-Secret`/`Modal-Key`/
//! `Authorization` header names.
//!
//! **Invariant:** redaction only removes; it never adds information.

use std::sync::{Mutex, PoisonError};

/// What a redacted value is replaced with.
pub const MASK: &str = theory_contract::SECRET_MASK;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Registers a secret value: from now on it never appears in output.
/// Values shorter than [`theory_contract::SECRET_MIN`] bytes are ignored
/// (they would mask ordinary text).
pub fn register(secret: &str) {
    if secret.len() >= theory_contract::SECRET_MIN {
        let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_owned());
            // Longest first, so a secret containing another is masked whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// Every registered secret value, longest first: what no envelope or
/// artifact of a processor may hold (the conformance checks search for them).
pub fn registered() -> Vec<String> {
    SECRETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// `text` with every registered secret, credential header value and signed
/// query string masked.
pub fn text(text: &str) -> String {
    let mut out = text.to_owned();
    for secret in SECRETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    mask_headers(&mut out);
    mask_signed_queries(&mut out);
    out
}

const HEADERS: &[&str] = &["modal-secret", "modal-key", "authorization", "x-api-key"];

/// `Name: value` or `Name=value` (case-insensitive) -> `Name: [redacted]`, up
/// to the end of the line or a quote.
fn mask_headers(out: &mut String) {
    for header in HEADERS {
        let mut from = 0;
        while let Some(found) = out[from..]
            .to_ascii_lowercase()
            .find(header)
            .map(|i| i + from)
        {
            let mut start = found + header.len();
            let rest = out.as_bytes();
            while matches!(rest.get(start), Some(b':' | b'=' | b' ' | b'"')) {
                start += 1;
            }
            let end = out[start..]
                .find(['\n', '\r', '"', ',', ';'])
                .map_or(out.len(), |i| i + start);
            if end > start && &out[start..end] != MASK {
                out.replace_range(start..end, MASK);
            }
            from = start + MASK.len().min(out.len() - start);
        }
    }
}

const SIGNED_QUERY_KEYS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "sig",
    "token",
    "access_token",
];

/// The query of any `http(s)://` or `ws(s)://` URL whose keys look like a
/// signature or credential is replaced whole.
fn mask_signed_queries(out: &mut String) {
    let mut from = 0;
    while let Some(q) = out[from..].find('?').map(|i| i + from) {
        let end = out[q..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .map_or(out.len(), |i| i + q);
        let query = out[q + 1..end].to_ascii_lowercase();
        let before = &out[..q];
        let in_url = ["http://", "https://", "ws://", "wss://"]
            .iter()
            .any(|scheme| {
                before
                    .rfind(scheme)
                    .is_some_and(|s| !before[s..].contains(char::is_whitespace))
            });
        let signed = query
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|key| SIGNED_QUERY_KEYS.contains(&key));
        if in_url && signed {
            out.replace_range(q + 1..end, MASK);
            from = q + 1 + MASK.len();
        } else {
            from = q + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secret_is_masked_and_other_text_kept() {
        register("s3cr3t-value-123");
        assert_eq!(
            text("token=s3cr3t-value-123 ok"),
            format!("token={MASK} ok")
        );
        assert_eq!(text("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("ab");
        assert_eq!(text("a cab"), "a cab");
    }

    #[test]
    fn credential_headers_are_masked() {
        assert_eq!(
            text("Modal-Secret: wk-abc123\nnext"),
            format!("Modal-Secret: {MASK}\nnext")
        );
        assert_eq!(
            text(r#"{"authorization":"Bearer xyz"}"#),
            format!(r#"{{"authorization":"{MASK}"}}"#)
        );
        assert_eq!(
            text("modal-key=ak-1, rest"),
            format!("modal-key={MASK}, rest")
        );
    }

    #[test]
    fn presigned_query_is_masked_but_plain_query_kept() {
        assert_eq!(
            text("PUT https://s3.local/b/k?X-Amz-Signature=abc&X-Amz-Date=1 done"),
            format!("PUT https://s3.local/b/k?{MASK} done")
        );
        assert_eq!(text("GET http://h/p?page=2 ok"), "GET http://h/p?page=2 ok");
        assert_eq!(text("why? token=1"), "why? token=1");
    }
}
