//! Cutting text to a byte budget without splitting a character: the
//! contract bounds `error.message`, `meta.stderr_tail` and WebSocket close
//! reasons in bytes, and every bounded string goes through these two
//! functions.

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
///
/// ```
/// assert_eq!(theory_contract::text::head("héllo", 2), "h");
/// assert_eq!(theory_contract::text::head("abc", 10), "abc");
/// ```
pub fn head(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest suffix of `s` of at most `max` bytes that starts on a
/// character boundary.
///
/// ```
/// assert_eq!(theory_contract::text::tail("héllo", 4), "llo");
/// assert_eq!(theory_contract::text::tail("abc", 10), "abc");
/// ```
pub fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::{head, tail};

    #[test]
    fn cuts_never_split_a_character_and_never_exceed_the_budget() {
        let text = "a€b😀c";
        for max in 0..=text.len() + 1 {
            let h = head(text, max);
            let t = tail(text, max);
            assert!(h.len() <= max && t.len() <= max, "max {max}");
            assert!(text.starts_with(h) && text.ends_with(t), "max {max}");
        }
    }

    #[test]
    fn a_budget_inside_a_character_drops_that_character() {
        assert_eq!(head("€", 2), "");
        assert_eq!(tail("€", 2), "");
        assert_eq!(head("a€", 3), "a");
        assert_eq!(tail("€a", 3), "a");
    }
}
