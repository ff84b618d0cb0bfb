//! Pagination against the demo server's `/pages/*` lists, one per
//! strategy: every item exactly once, in order, the page bound honoured,
//! pages as well as items, and the blocking iterators.

use futures_util::StreamExt;
use keel::pagination::{Pager, Pagination};
use keel::HttpClient;
use keel_demo::DemoServer;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq, Eq, Clone)]
struct Item {
    id: String,
    n: u64,
}

fn expected(total: u64) -> Vec<u64> {
    (1..=total).collect()
}

/// A strategy under test: its name, the list's path, the strategy and
/// the page-size parameter.
type Case = (
    &'static str,
    String,
    Pagination,
    Option<(&'static str, u64)>,
);

fn strategies(total: u64, key: &str) -> Vec<Case> {
    vec![
        (
            "cursor",
            format!("/pages/cursor?total={total}&key={key}-cursor"),
            Pagination::cursor("cursor", "next_cursor"),
            Some(("limit", 5)),
        ),
        (
            "starting_after",
            format!("/pages/stripe?total={total}&key={key}-stripe"),
            Pagination::starting_after(),
            Some(("limit", 5)),
        ),
        (
            "offset",
            format!("/pages/offset?total={total}&key={key}-offset"),
            Pagination::offset(5),
            None,
        ),
        (
            "page_number",
            format!("/pages/numbered?total={total}&key={key}-numbered"),
            Pagination::page_number(),
            Some(("per_page", 5)),
        ),
        (
            "link",
            format!("/pages/link?total={total}&per_page=5&key={key}-link"),
            Pagination::link_header(),
            None,
        ),
    ]
}

fn pager(client: &HttpClient, path: &str, p: Pagination, size: Option<(&str, u64)>) -> Pager<Item> {
    let pager = Pager::get(client, path, p);
    match size {
        Some((param, n)) => pager.page_size(param, n),
        None => pager,
    }
}

#[tokio::test]
async fn every_strategy_yields_every_item_exactly_once() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    // 23 items in pages of 5 (a short last page), 25 (an exactly full last
    // page) and 0 (an empty list).
    for total in [23u64, 25, 0] {
        for (name, path, p, size) in strategies(total, &format!("all{total}")) {
            let mut pager = pager(&client, &path, p, size);
            let mut got = Vec::new();
            while let Some(item) = pager.next_item().await.unwrap() {
                got.push(item);
                assert!(
                    got.len() as u64 <= total,
                    "{name}: more items than the list has"
                );
            }
            let ns: Vec<u64> = got.iter().map(|i| i.n).collect();
            assert_eq!(ns, expected(total), "{name} with {total} items");
            assert!(got.iter().all(|i| i.id == format!("it_{:03}", i.n)));
            assert!(!pager.limit_reached(), "{name}");
            // One request per page, plus at most one that finds the end.
            let requests = server
                .state()
                .arrivals(&format!("pages:all{total}-{}", key_suffix(name)))
                .arrivals;
            let pages = total.div_ceil(5).max(1);
            assert!(
                requests == pages || requests == pages + 1,
                "{name} with {total} items: {requests} requests for {pages} pages"
            );
            assert_eq!(u64::from(pager.pages_fetched()), requests, "{name}");
        }
    }
}

fn key_suffix(name: &str) -> &'static str {
    match name {
        "cursor" => "cursor",
        "starting_after" => "stripe",
        "offset" => "offset",
        "page_number" => "numbered",
        _ => "link",
    }
}

#[tokio::test]
async fn every_strategy_stops_at_the_page_bound() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    for (name, path, p, size) in strategies(23, "bound") {
        let pager = pager(&client, &path, p, size).max_pages(2);
        let items: Vec<Item> = pager.items().map(Result::unwrap).collect::<Vec<_>>().await;
        let ns: Vec<u64> = items.iter().map(|i| i.n).collect();
        assert_eq!(
            ns,
            (1..=10).collect::<Vec<_>>(),
            "{name}: two pages of five"
        );
        let requests = server
            .state()
            .arrivals(&format!("pages:bound-{}", key_suffix(name)))
            .arrivals;
        assert_eq!(requests, 2, "{name}: no request past the bound");
    }
    // The bound is reported.
    let mut pager =
        Pager::<Item>::get(&client, "/pages/offset?total=23", Pagination::offset(5)).max_pages(1);
    while pager.next_item().await.unwrap().is_some() {}
    assert!(pager.limit_reached());
}

#[tokio::test]
async fn pages_come_with_their_responses() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let pages: Vec<_> = Pager::<Item>::get(
        &client,
        "/pages/link?total=12&per_page=5",
        Pagination::link_header(),
    )
    .pages()
    .map(Result::unwrap)
    .collect()
    .await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, vec![5, 5, 2]);
    assert_eq!(
        pages.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(pages[0]
        .response
        .header("link")
        .unwrap()
        .contains("rel=\"next\""));
    assert!(!pages[2]
        .response
        .header("link")
        .unwrap()
        .contains("rel=\"next\""));
}

#[tokio::test]
async fn a_page_without_items_where_they_should_be_is_a_clear_error() {
    let server = DemoServer::start().await.unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let err = Pager::<Item>::get(&client, "/health", Pagination::page_number())
        .next_page()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("items_at"), "{err}");
    let err = Pager::<Item>::get(
        &client,
        "/pages/cursor",
        Pagination::cursor("cursor", "next_cursor"),
    )
    .items_at("/nope")
    .next_page()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("/nope"), "{err}");
    // A status that is not a success fails the walk.
    let err = Pager::<Item>::get(&client, "/status/500", Pagination::page_number())
        .next_page()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
}

#[test]
fn blocking_callers_iterate_items_and_pages() {
    let server = DemoServer::start_background().unwrap();
    let client = HttpClient::new(server.url()).unwrap();
    let items: Vec<Item> = Pager::get(
        &client,
        "/pages/stripe?total=13",
        Pagination::starting_after(),
    )
    .page_size("limit", 4)
    .items_blocking()
    .map(Result::unwrap)
    .collect();
    assert_eq!(items.iter().map(|i| i.n).collect::<Vec<_>>(), expected(13));
    let pages = Pager::<Item>::get(
        &client,
        "/pages/numbered?total=13",
        Pagination::page_number(),
    )
    .page_size("per_page", 4)
    .pages_blocking()
    .map(|p| p.unwrap().items.len())
    .collect::<Vec<_>>();
    assert_eq!(pages, vec![4, 4, 4, 1]);
    let all = Pager::<Item>::get(&client, "/pages/offset?total=7", Pagination::offset(3))
        .collect_all_blocking()
        .unwrap();
    assert_eq!(all.len(), 7);
}
