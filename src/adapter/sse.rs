//! An incremental server-sent events parser (the WHATWG "event stream
//! interpretation": lines end in CRLF, LF or CR; `event`, `data`, comments;
//! a blank line dispatches), bounded: no event, and no line, may exceed the
//! size cap, checked as bytes arrive.
//!
//! Hand-written because the SSE crates buffer a whole event before any
//! check, and the cap must hold while reading.
//!
//! **Invariant:** never holds more than `max` bytes of an event at once.

/// The events of a whole stream fed in chunks cut at `cuts` (byte offsets,
/// any order, out-of-range ones ignored), as `(name, data)`; `Err` when an
/// event or line goes over `max`. The public seam of the parser, for the
/// fuzz target: the events never depend on where the chunks are cut.
pub fn parse_stream(
    bytes: &[u8],
    cuts: &[usize],
    max: usize,
) -> Result<Vec<(String, Vec<u8>)>, usize> {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|c| *c <= bytes.len()).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut parser = Parser::new(max);
    let mut events = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        parser
            .push(&bytes[from..cut], &mut events)
            .map_err(|TooLarge(n)| n)?;
        from = cut;
    }
    Ok(events.into_iter().map(|e| (e.name, e.data)).collect())
}

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    /// The `event` field, `message` when absent.
    pub(crate) name: String,
    /// The `data` lines joined by `\n`.
    pub(crate) data: Vec<u8>,
}

/// An event or line went over the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an event over {0} bytes")]
pub(crate) struct TooLarge(pub(crate) usize);

/// The parser's state between chunks.
pub(crate) struct Parser {
    max: usize,
    line: Vec<u8>,
    name: Option<String>,
    data: Vec<u8>,
    has_data: bool,
    /// The previous chunk ended in CR: a leading LF belongs to it.
    after_cr: bool,
    /// No line ended yet: a BOM that starts the first line is skipped,
    /// wherever the chunks cut it.
    start: bool,
}

impl Parser {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            line: Vec::new(),
            name: None,
            data: Vec::new(),
            has_data: false,
            after_cr: false,
            start: true,
        }
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), TooLarge> {
        for &byte in chunk {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(out);
                }
                b'\n' => self.end_line(out),
                _ => {
                    if self.line.len() + self.data.len() >= self.max {
                        return Err(TooLarge(self.max));
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<Event>) {
        let mut line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.start) && line.starts_with(b"\xEF\xBB\xBF") {
            line.drain(..3);
        }
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                if data.last() == Some(&b'\n') {
                    data.pop();
                }
                let name = self.name.take().unwrap_or_else(|| "message".to_owned());
                out.push(Event { name, data });
            }
            self.name = None;
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line.first() == Some(&b':') {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line.as_slice(), &[][..]),
        };
        match field {
            b"event" => self.name = Some(String::from_utf8_lossy(value).into_owned()),
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            // `id`, `retry` and unknown fields carry nothing the contract uses.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]], max: usize) -> Result<Vec<Event>, TooLarge> {
        let mut parser = Parser::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out)?;
        }
        Ok(out)
    }

    fn event(name: &str, data: &str) -> Event {
        Event {
            name: name.to_owned(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn events_split_anywhere_and_any_line_ending() {
        let stream: &[&[u8]] = &[
            b"event: progress\r",
            b"\ndata: {\"a\":1}\r\n\r",
            b"\n: comment\nevent:done\ndata:x\ndata: y\n\n",
        ];
        assert_eq!(
            parse(stream, 1024),
            Ok(vec![event("progress", "{\"a\":1}"), event("done", "x\ny")])
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_a_nameless_one_is_message() {
        assert_eq!(
            parse(&[b"event: x\n\ndata: 1\n\n"], 64),
            Ok(vec![event("message", "1")])
        );
        assert_eq!(
            parse(&[b"\xEF\xBB\xBFdata: 1\n\nid: 7\nretry: 1\n"], 64),
            Ok(vec![event("message", "1")])
        );
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert_eq!(parse(&[b"event: done\ndata: {}\n"], 64), Ok(vec![]));
    }

    #[test]
    fn the_cap_holds_for_one_endless_line_and_for_many_data_lines() {
        let endless = vec![b'a'; 100];
        assert_eq!(parse(&[b"data: ", &endless], 64), Err(TooLarge(64)));
        let many: Vec<u8> = b"data: 0123456789\n".repeat(10);
        assert_eq!(parse(&[&many], 64), Err(TooLarge(64)));
        assert!(parse(&[b"data: 0123456789\n\n"], 64).is_ok());
    }

    /// Found by reading the `sse` fuzz target's property (the target did
    /// not reach it): a BOM cut across chunks was kept, and the first
    /// field's name with it.
    #[test]
    fn a_bom_cut_across_chunks_is_skipped_as_a_whole_one_is() {
        let stream = b"\xEF\xBB\xBFdata: bom\n\n";
        let whole = parse(&[stream], 64);
        assert_eq!(
            whole,
            Ok(vec![Event {
                name: "message".to_owned(),
                data: b"bom".to_vec(),
            }])
        );
        for cut in 1..4 {
            let (a, b) = stream.split_at(cut);
            assert_eq!(parse(&[a, b], 64), whole, "cut at {cut}");
        }
    }
}
