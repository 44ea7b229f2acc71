//! Canonicalization and validation throughput on envelopes of 1 KiB,
//! 64 KiB and 2 MiB (pretty-printed, so canonicalization has work to do).
//! Prints one line per size and operation: size, iterations, time per
//! envelope and MiB/s, beside serde_json's parse-and-print as the baseline.
//! `cargo bench --bench canon` (or `ci/bench`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use theory_contract::{Expect, canon, check_envelope};

/// A valid success envelope of about `bytes` bytes: outputs under a prefix.
fn envelope(bytes: usize) -> Vec<u8> {
    let prefix = "/tmp/theory-bench/exec-1/";
    let mut outputs = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < bytes.saturating_sub(400) {
        let entry = format!("    {{\n      \"path\": \"{prefix}out/file-{i:06}.json\"\n    }}");
        size += entry.len() + 2;
        outputs.push(entry);
        i += 1;
    }
    format!(
        "{{\n  \"status\": \"success\",\n  \"execution_id\": \"exec-1\",\n  \"outputs\": [\n{}\n  ],\n  \"index_path\": \"{prefix}outputs.json\",\n  \"meta\": {{\n    \"env_fingerprint\": \"cpu:1;memory:512Mi;platform:amd64;runtime:container\"\n  }}\n}}\n",
        outputs.join(",\n")
    )
    .into_bytes()
}

/// One measured operation.
type Op<'a> = Box<dyn FnMut() + 'a>;

/// Runs `op` for about half a second (at least 5 times): the mean.
fn measure(mut op: impl FnMut()) -> (u32, Duration) {
    let started = Instant::now();
    let mut n = 0_u32;
    while n < 5 || started.elapsed() < Duration::from_millis(500) {
        op();
        n += 1;
    }
    (n, started.elapsed() / n)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    println!(
        "{:<10} {:<12} {:>8} {:>12} {:>10}",
        "size", "operation", "runs", "per op", "MiB/s"
    );
    for (label, bytes) in [
        ("1KiB", 1024),
        ("64KiB", 64 * 1024),
        ("2MiB", 2 * 1024 * 1024),
    ] {
        let text = envelope(bytes);
        let doc = canon::parse(&text).expect("the bench envelope is JSON");
        let violations = check_envelope(&doc, &Expect::default());
        assert!(
            violations.is_empty(),
            "the bench envelope is valid: {violations:?}"
        );
        let mib = text.len() as f64 / (1024.0 * 1024.0);
        let rows: [(&str, Op<'_>); 4] = [
            // The baseline: serde_json's parse and compact print (no
            // sorting, no duplicate or number checks, no validation).
            (
                "serde_json",
                Box::new(|| {
                    let value: serde_json::Value =
                        serde_json::from_slice(black_box(&text)).expect("parses");
                    black_box(serde_json::to_vec(&value).expect("prints"));
                }),
            ),
            (
                "canonicalize",
                Box::new(|| {
                    black_box(canon::canonicalize(black_box(&text)).expect("canonical"));
                }),
            ),
            (
                "parse",
                Box::new(|| {
                    black_box(canon::parse(black_box(&text)).expect("parses"));
                }),
            ),
            (
                "validate",
                Box::new(|| {
                    black_box(check_envelope(black_box(&doc), &Expect::default()));
                }),
            ),
        ];
        for (operation, op) in rows {
            let (runs, per) = measure(op);
            println!(
                "{:<10} {:<12} {:>8} {:>9.1} us {:>10.1}",
                format!("{label}({})", text.len()),
                operation,
                runs,
                per.as_secs_f64() * 1e6,
                mib / per.as_secs_f64()
            );
        }
    }
}
