//! Registry, suite, lanes and known-list files: every input gets a value
//! or an error, never a panic (the first byte picks the loader).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use theory_conform::conform::known::{KnownList, ListKind};
use theory_conform::conform::lanes::Lanes;
use theory_conform::conform::suite::Suite;
use theory_conform::registry::{Registry, TagPolicy};

fuzz_target!(|bytes: &[u8]| {
    let Some((&which, rest)) = bytes.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 4 {
        0 => {
            let _ = Registry::parse(
                text,
                "fuzz.yaml",
                Path::new("/nonexistent"),
                TagPolicy::RequireDigest,
            );
        }
        1 => {
            let _ = Suite::parse(text, "fuzz.yaml", "contract");
        }
        2 => {
            let _ = Lanes::parse_with_embedded_suites(text, "fuzz.yaml");
        }
        _ => {
            let _ = KnownList::parse(text, "fuzz.yaml", ListKind::Failures);
        }
    }
});
