//! Documentation generated from the code stays in step with it.
//! Regenerate with `THEORY_BLESS=1 cargo nextest run --test docs`.

mod support;

use theory_contract::{ErrorCode, Rule, Scope};

fn rules_table() -> String {
    let mut out = String::from(
        "# Envelope rules\n\n\
         Generated from `crates/contract/src/rules.rs` by `tests/docs.rs`; do not edit.\n\
         Every violation `theory-conform envelope check` and the runner report names one of these ids.\n\n\
         | rule id | scope | requirement |\n|---|---|---|\n",
    );
    for rule in Rule::ALL {
        let scope = match rule.scope() {
            Scope::Shape => "shape (schema too)",
            Scope::Value => "value",
            Scope::Context => "context",
            Scope::Disk => "disk",
            Scope::Storage => "storage",
        };
        out.push_str(&format!(
            "| `{}` | {scope} | {} |\n",
            rule.id(),
            rule.description().replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn rules_doc_matches_the_rule_table() {
    let path = support::fixture("docs/rules.md");
    let expected = rules_table();
    if std::env::var_os("THEORY_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/rules.md");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/rules.md is stale; regenerate with THEORY_BLESS=1 cargo nextest run --test docs"
    );
}

#[test]
fn published_contract_names_every_error_code() {
    let contract =
        std::fs::read_to_string(support::fixture("docs/CONTRACT.md")).expect("docs/CONTRACT.md");
    for code in ErrorCode::ALL {
        assert!(
            contract.contains(&format!("| `{code}` |")),
            "docs/CONTRACT.md lacks {code} in its taxonomy table"
        );
    }
    let taxonomy = contract
        .split("## 4.")
        .nth(1)
        .and_then(|s| s.split("## 5.").next())
        .expect("§4");
    let listed = taxonomy
        .lines()
        .filter(|l| l.starts_with("| `ERR_"))
        .count();
    assert_eq!(
        listed,
        ErrorCode::ALL.len(),
        "the taxonomy table and ErrorCode::ALL differ"
    );
}
