//! Envelopes and frames from a processor: parsing, strict decoding and
//! every envelope rule never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use theory_contract::{Envelope, Expect, Frame, WritePrefix, canon, check_envelope, decode};

fuzz_target!(|bytes: &[u8]| {
    let _ = serde_json::from_slice::<Envelope>(bytes);
    let Ok(doc) = canon::parse(bytes) else {
        return;
    };
    let prefix = WritePrefix::parse("/tmp/fuzz/exec-1/").expect("a prefix");
    let hosts = ["fuzz-host".to_owned()];
    let secrets = ["fuzz-secret".to_owned()];
    let violations = check_envelope(
        &doc,
        &Expect {
            execution_id: Some("exec-1"),
            prefix: Some(&prefix),
            host_values: &hosts,
            secret_values: &secrets,
        },
    );
    for violation in &violations {
        assert!(!violation.message.contains("fuzz-secret"), "{violation:?}");
    }
    let _ = theory_contract::comparable_bytes(&doc);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = decode::<Frame>(value);
    }
});
