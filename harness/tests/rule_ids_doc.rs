//! docs/reception-rules.md's "Rule ids" table is `rules::rule_ids()`, id for id and word for
//! word: the ids a verdict or `rules explain` names are all documented, and the docs name no
//! id the code does not have.

#[test]
fn the_rule_id_table_is_the_codes() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/reception-rules.md"
    ))
    .unwrap();
    let section = doc
        .split("\n## Rule ids\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a `## Rule ids` section");
    let documented: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    let expected: Vec<String> = harness::rules::rule_ids()
        .into_iter()
        .map(|(id, what)| format!("| `{id}` | {what} |"))
        .collect();
    assert_eq!(
        documented,
        expected,
        "the table should be:\n| rule id | decides |\n|---|---|\n{}",
        expected.join("\n")
    );
    let mut ids: Vec<&str> = harness::rules::rule_ids().iter().map(|(i, _)| *i).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a rule id appears twice");
}
