//! Stack traces in `error.message` (CONTRACT.md §4: "No stack traces"),
//! recognised from a data table of the lines real runtimes print.
//!
//! Each [`SIGNATURES`] row is one runtime's line shape as a pattern matched
//! against every line of the message, trimmed, as a whole:
//!
//! - `*` — any text, possibly empty;
//! - `<w>` — a word: one or more characters that are not whitespace;
//! - `<n>` — one or more ASCII digits;
//! - anything else — itself.
//!
//! A pattern that starts with text is anchored at the line's start, so
//! `at <w>(<w>.java:<n>)` is a Java frame and "value must be at least 1.5
//! (inclusive)" is not. `crates/contract/tests/stack_traces.rs` holds the
//! corpus: real traces of every runtime named here, which must match, and
//! harmless messages (a path, a line number in prose) which must not.
//!
//! **Invariant:** pure; a match costs time linear in the text for a
//! pattern, and only a message's first `2 * MESSAGE_MAX` bytes are
//! searched, so a hostile message costs bounded time.

/// One runtime's trace line.
#[derive(Clone, Copy, Debug)]
pub struct Signature {
    /// The runtime, for the violation message.
    pub runtime: &'static str,
    /// The line shape (see the module's grammar).
    pub pattern: &'static str,
}

macro_rules! signatures {
    ($($runtime:literal: $($pattern:literal),+;)*) => {
        /// Every known trace line shape, by runtime.
        pub const SIGNATURES: &[Signature] = &[$($(Signature { runtime: $runtime, pattern: $pattern },)+)*];
    };
}

signatures! {
    "Python": "*Traceback (most recent call last)*", "*File \"<w>.py\", line <n>*";
    "Go": "*goroutine <n> [*]:*", "*<w>.go:<n> +0x<w>*", "panic: * [recovered]*";
    "Java": "*at <w>(<w>.java:<n>)*", "at <w>(Native Method)*", "at <w>(Unknown Source)*",
        "Exception in thread \"*\" *", "Caused by: <w>Exception*", "... <n> more";
    "Kotlin": "*at <w>(<w>.kt:<n>)*";
    "Scala": "*at <w>(<w>.scala:<n>)*";
    ".NET": "at <w>.<w>(*) in *:line <n>*", "at <w>.<w>(*)", "*--- End of stack trace from previous location*",
        "Unhandled exception. <w>.<w>Exception*";
    "Node": "*at <w> (*.js:<n>:<n>)*", "*at <w> (*.mjs:<n>:<n>)*", "*at <w> (*.cjs:<n>:<n>)*", "*at <w> (*.ts:<n>:<n>)*",
        "at <w>.js:<n>:<n>", "at <w>.mjs:<n>:<n>", "at <w>.cjs:<n>:<n>", "at <w>.ts:<n>:<n>", "at async <w> (*:<n>:<n>)",
        "at new <w> (*:<n>:<n>)", "*at <w> (node:<w>:<n>:<n>)*";
    "Ruby": "*<w>.rb:<n>:in *", "from <w>.rb:<n>:in *";
    "PHP": "#<n> <w>.php(<n>): *", "#<n> {main}", "*Stack trace:*#0 *", "PHP Fatal error: *";
    "Rust": "*stack backtrace:*", "*panicked at *.rs:<n>:<n>*", "at <w>.rs:<n>:<n>", "<n>: <w>::<w>";
    "Perl": "* at <w>.pl line <n>*", "* at <w>.pm line <n>*";
    "Elixir": "** (<w>Error) *", "*(<w> <w>) <w>.ex:<n>: *", "*<w>.ex:<n>: <w>/<n>*";
    "Erlang": "*{file,\"<w>.erl\"},{line,<n>}*", "** exception <w>: *";
    "Haskell": "*CallStack (from HasCallStack)*", "*, called at <w>.hs:<n>:<n> in *";
    "Swift": "*file <w>.swift, line <n>*", "*<w>.swift:<n>: Fatal error*";
    "Dart": "#<n> *(*.dart:<n>:<n>)";
    "C/C++": "#<n> *0x<w> in *";
}

/// How much of a message is searched: a message longer than
/// [`crate::MESSAGE_MAX`] is a violation already, and a hostile one costs
/// bounded time.
const SEARCHED: usize = 2 * crate::MESSAGE_MAX;

/// The runtime whose trace `message` carries, if any.
pub fn find(message: &str) -> Option<&'static Signature> {
    let message = crate::text::head(message, SEARCHED);
    // A trace squashed onto one line is still a trace: `Stack trace:#0 ...`
    // is matched on the whole message as well as line by line.
    SIGNATURES.iter().find(|s| {
        message.lines().any(|line| matches(s.pattern, line.trim())) || matches(s.pattern, message)
    })
}

/// One token of a pattern.
#[derive(Clone, Copy)]
enum Token {
    Any,
    Word,
    Digits,
    Byte(u8),
}

/// Whether `text` as a whole has the shape `pattern`.
///
/// A dynamic program over (token, position), one column at a time: time
/// proportional to the pattern's tokens times the text's bytes, whatever
/// the text, and memory to the tokens.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut tokens = Vec::new();
    let mut rest = pattern.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if let Some(after) = rest.strip_prefix(b"<w>") {
            tokens.push(Token::Word);
            rest = after;
        } else if let Some(after) = rest.strip_prefix(b"<n>") {
            tokens.push(Token::Digits);
            rest = after;
        } else {
            tokens.push(if first == b'*' {
                Token::Any
            } else {
                Token::Byte(first)
            });
            rest = tail;
        }
    }
    let text = text.as_bytes();
    let width = tokens.len() + 1;
    // `next[i]`: tokens i.. match text[j + 1..]; `here[i]`: they match text[j..].
    let mut next = vec![false; width];
    let mut here = vec![false; width];
    for j in (0..=text.len()).rev() {
        let byte = text.get(j).copied();
        here[width - 1] = byte.is_none();
        for i in (0..tokens.len()).rev() {
            here[i] = match (tokens[i], byte) {
                (Token::Any, None) => here[i + 1],
                (Token::Any, Some(_)) => here[i + 1] || next[i],
                (Token::Word, Some(b)) if !b.is_ascii_whitespace() => next[i + 1] || next[i],
                (Token::Digits, Some(b)) if b.is_ascii_digit() => next[i + 1] || next[i],
                (Token::Byte(want), Some(b)) => want == b && next[i + 1],
                (Token::Word | Token::Digits | Token::Byte(_), _) => false,
            };
        }
        std::mem::swap(&mut here, &mut next);
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn the_grammar_matches_whole_lines() {
        assert!(matches("at <w>(<w>.java:<n>)*", "at a.B.c(B.java:42)"));
        assert!(!matches(
            "at <w>(<w>.java:<n>)*",
            "look at a.B.c(B.java:42)"
        ));
        assert!(matches("*x*", "x"));
        assert!(!matches("<n>", ""));
        assert!(!matches("<w>", " "));
        assert!(matches("<n>: <w>::<w>", "12: std::rt::lang_start"));
        assert!(!matches("<n>: <w>::<w>", "12: a"));
    }
}
