//! The SSE parser: never panics, never yields an event over its cap, and
//! gives the same events wherever the stream is cut into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use theory_conform::adapter::parse_event_stream;

/// A small cap, so the fuzzer reaches it.
const MAX: usize = 64;

fuzz_target!(|input: (bool, Vec<u8>, Vec<u8>)| {
    let (bom, mut bytes, cut_bytes) = input;
    // A leading byte-order mark, which a cut may split.
    if bom {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
    }
    let cuts: Vec<usize> = cut_bytes.iter().map(|c| usize::from(*c)).collect();
    let whole = parse_event_stream(&bytes, &[], MAX);
    let cut = parse_event_stream(&bytes, &cuts, MAX);
    if let Ok(events) = &whole {
        for (name, data) in events {
            assert!(
                data.len() <= MAX && name.len() <= MAX,
                "{name:?}: {} bytes",
                data.len()
            );
        }
    }
    assert_eq!(whole, cut, "the events depend on where the stream is cut");
});
