//! Which operations get `paginate()`: the shapes detection recognizes
//! (cursor, Stripe's `has_more` + `starting_after`, offset/limit, page
//! number), the `x-keel-pagination` override (a strategy and names detection
//! would not find, the `Link` header, `false` turning detection off), and
//! what is never a list (a POST, an event stream), as `generate` reports them
//! and as the generated code has them. `tests/specs/paging.yaml`.

use std::path::Path;

use keel_codegen::{generate, GenerateOptions};

fn spec() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/specs/paging.yaml"
    ))
}

#[test]
fn detected_and_overridden_operations_are_reported_with_their_strategy() {
    let g = generate(spec(), &GenerateOptions::new("paging-client")).unwrap();
    let mut paginated = g.paginated.clone();
    paginated.sort();
    let expected: Vec<(String, String)> = [
        ("listByCursor", "cursor `cursor` from `next_cursor`"),
        ("listByOffset", "offset/limit (100 per page)"),
        ("listByPage", "page number"),
        ("listCharges", "has_more + starting_after"),
        ("listCustom", "cursor `from` from `continue_at`"),
        ("listLinked", "Link: rel=\"next\""),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(paginated, expected);
    assert_eq!(g.event_streams, vec!["watchItems".to_owned()]);
}

#[test]
fn the_generated_code_has_paginate_exactly_where_reported() {
    let g = generate(spec(), &GenerateOptions::new("paging-client")).unwrap();
    let code: String = g
        .files
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "rs"))
        .map(|f| f.contents.as_str())
        .collect();
    // Each operation's builder is named after it; paginate() sits on the
    // builders of the six lists only.
    let count = code.matches("pub fn paginate(").count();
    assert_eq!(count, 6, "paginate() methods in:\n{code}");
    // The override's names reach the generated pager.
    let squeezed: String = code.split_whitespace().collect();
    for pager in [
        "Pagination::cursor(\"from\",\"continue_at\"),)?.items_at(\"things\")",
        "Pagination::cursor(\"cursor\",\"next_cursor\"),)?.items_at(\"data\")",
        "Pagination::starting_after(),)?.items_at(\"data\")",
        "Pagination::offset(100u64),)?.items_at(\"\")",
        "Pagination::page_number(),)?.items_at(\"results\")",
        "Pagination::link_header(),)?.items_at(\"\")",
    ] {
        assert!(squeezed.contains(pager), "no `{pager}` in:\n{code}");
    }
    assert!(
        code.contains("pub fn events("),
        "the event stream's events()"
    );
}
