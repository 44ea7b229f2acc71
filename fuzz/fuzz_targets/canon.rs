//! The canonicalizer: never panics; what it accepts it maps to a fixed
//! point, which parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use theory_contract::canon;

fuzz_target!(|bytes: &[u8]| {
    let Ok(canonical) = canon::canonicalize(bytes) else {
        return;
    };
    let again = canon::canonicalize(&canonical).expect("canonical bytes canonicalize");
    assert_eq!(again, canonical, "canonicalization is not a fixed point");
    let parsed = canon::parse(&canonical).expect("canonical bytes parse");
    let rendered = canon::to_canonical(&parsed).expect("a parsed value renders");
    assert_eq!(rendered, canonical);
});
