//! Pagination: a [`Pager`] walks a paginated list page by page and yields
//! its items (or its pages) as an async stream or a blocking iterator.
//!
//! The strategies ([`Pagination`]) cover the common shapes:
//! - [`Pagination::cursor`]: the next cursor is a field of the response
//!   (`{"data": [..], "next_cursor": "c5"}`), sent back as a parameter;
//! - [`Pagination::starting_after`]: Stripe's `has_more` plus the last
//!   item's id, sent as `starting_after`;
//! - [`Pagination::offset`]: `offset` / `limit` parameters;
//! - [`Pagination::page_number`]: a page number parameter;
//! - [`Pagination::link_header`]: the URL in `Link: <…>; rel="next"`
//!   (GitHub, RFC 8288).
//!
//! Every pager stops after [`max_pages`](Pager::max_pages) pages (default
//! [`DEFAULT_MAX_PAGES`]); [`Pager::limit_reached`] says whether it stopped
//! there rather than at the end of the list. Each page is one request
//! through the client (retries, breaker, rate limit, signing apply to each).
//!
//! ```no_run
//! # async fn run(client: keel::HttpClient) -> keel::Result<()> {
//! use futures_util::StreamExt;
//! use keel::pagination::{Pager, Pagination};
//!
//! #[derive(serde::Deserialize)]
//! struct Customer { id: String }
//!
//! let pager: Pager<Customer> = Pager::get(&client, "/v1/customers", Pagination::starting_after())
//!     .page_size("limit", 100)
//!     .max_pages(50);
//! let mut items = std::pin::pin!(pager.items());
//! while let Some(customer) = items.next().await {
//!     println!("{}", customer?.id);
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::client::{AuthState, Client};
use crate::error::{Error, Result};
use crate::request::RequestBuilder;
use crate::response::Response;
use crate::transport::runtime;

/// How many pages a pager fetches at most, unless configured.
pub const DEFAULT_MAX_PAGES: u32 = 1_000;

/// Where the items of a page are, when not configured: the body itself
/// when it is an array, else the first of these top-level fields that is an
/// array.
pub const ITEM_FIELDS: &[&str] = &["data", "items", "results", "records", "entries", "values"];

/// How a list is paginated; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pagination {
    /// The next cursor is the response field at `field` (a JSON pointer,
    /// or a top-level name); it is sent as the query parameter `param`. The
    /// list ends when the field is missing, null or empty.
    Cursor {
        /// The query parameter that carries the cursor.
        param: String,
        /// Where the next cursor is in the response.
        field: String,
    },
    /// Stripe's style: while the response's `has_more` field is true, the
    /// next page starts after the last item's `id_field`, sent as `param`.
    StartingAfter {
        /// The query parameter (`starting_after`).
        param: String,
        /// The boolean field that says whether there is more (`has_more`).
        has_more: String,
        /// The item field holding its id (`id`).
        id_field: String,
    },
    /// `offset` and `limit` parameters; the list ends with a short page, or
    /// when `total_field` (if the response has it) is reached.
    Offset {
        /// The offset parameter (`offset`).
        offset_param: String,
        /// The page size parameter (`limit`).
        limit_param: String,
        /// The page size.
        limit: u64,
        /// The field with the total number of items (`total`), when there
        /// is one.
        total_field: Option<String>,
    },
    /// A page number parameter, from `first`; the list ends with an empty
    /// page, a page shorter than the page size (when one was set with
    /// [`Pager::page_size`]), or when `total_pages_field` is reached.
    PageNumber {
        /// The page parameter (`page`).
        param: String,
        /// The number of the first page (usually 1).
        first: u64,
        /// The field with the number of pages (`total_pages`), when there
        /// is one.
        total_pages_field: Option<String>,
    },
    /// The `Link` header's `rel="next"` URL (resolved against the page's
    /// URL); the list ends when there is none.
    LinkHeader,
}

impl Pagination {
    /// A cursor in the response field `field`, sent back as `param`.
    pub fn cursor(param: impl Into<String>, field: impl Into<String>) -> Self {
        Pagination::Cursor {
            param: param.into(),
            field: field.into(),
        }
    }

    /// Stripe's `has_more` + `starting_after=<last id>`.
    pub fn starting_after() -> Self {
        Pagination::StartingAfter {
            param: "starting_after".into(),
            has_more: "has_more".into(),
            id_field: "id".into(),
        }
    }

    /// `offset` / `limit` parameters with pages of `limit` items (and a
    /// `total` field, when the response has one).
    pub fn offset(limit: u64) -> Self {
        Pagination::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit,
            total_field: Some("total".into()),
        }
    }

    /// A `page` parameter from 1 (and a `total_pages` field, when the
    /// response has one).
    pub fn page_number() -> Self {
        Pagination::PageNumber {
            param: "page".into(),
            first: 1,
            total_pages_field: Some("total_pages".into()),
        }
    }

    /// The `Link: <…>; rel="next"` header.
    pub fn link_header() -> Self {
        Pagination::LinkHeader
    }

    fn check(&self) -> Result<()> {
        match self {
            Pagination::Offset { limit: 0, .. } => Err(Error::request(
                "offset pagination needs a page size (limit) of at least 1",
            )),
            _ => Ok(()),
        }
    }
}

/// One page of a list.
#[derive(Debug)]
#[non_exhaustive]
pub struct Page<T> {
    /// Its items, in order.
    pub items: Vec<T>,
    /// Its number in this walk (1 for the first page fetched).
    pub number: u32,
    /// The response it came from (status, headers, body).
    pub response: Response,
}

type MakeRequest = Arc<dyn Fn() -> Result<RequestBuilder> + Send + Sync>;
type FollowUrl = Arc<dyn Fn(&str) -> Result<RequestBuilder> + Send + Sync>;

/// What the next request is.
#[derive(Debug, Clone)]
enum Next {
    First,
    Param(String, String),
    Url(String),
    Offset(u64),
    Page(u64),
    Done,
}

/// Walks a paginated list; see the [module documentation](self).
pub struct Pager<T> {
    make: MakeRequest,
    follow: FollowUrl,
    pagination: Pagination,
    items_at: Option<String>,
    page_size: Option<(String, u64)>,
    max_pages: u32,
    next: Next,
    pages: u32,
    limit_reached: bool,
    seen_cursors: Vec<String>,
    queue: VecDeque<T>,
    _items: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("pagination", &self.pagination)
            .field("items_at", &self.items_at)
            .field("max_pages", &self.max_pages)
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Pager<T> {
    /// A pager whose first page is the request `make` builds through
    /// `client` (called again for each page; the pager adds the pagination
    /// parameters). [`LinkHeader`](Pagination::LinkHeader) pages after the
    /// first are `GET`s of the linked URL through `client`.
    pub fn new<A: AuthState>(
        client: &Client<A>,
        make: impl Fn(&Client<A>) -> RequestBuilder + Send + Sync + 'static,
        pagination: Pagination,
    ) -> Self {
        let c1 = client.clone();
        let c2 = client.clone();
        Self::with_parts(
            Arc::new(move || Ok(make(&c1))),
            Arc::new(move |url| Ok(c2.get(url))),
            pagination,
        )
    }

    /// A pager whose pages are copies of `request` with the pagination
    /// parameters added (what generated clients use); `Link` pages are
    /// `GET`s through the same client. Fails when the request cannot be
    /// sent again (a streaming body).
    pub fn from_request(request: RequestBuilder, pagination: Pagination) -> Result<Self> {
        if request.try_clone().is_none() {
            return Err(Error::request(
                "a paginated request must be re-sendable for every page (a streaming body is sent once); give the body as bytes",
            ));
        }
        let template = Arc::new(std::sync::Mutex::new(request));
        let t2 = template.clone();
        fn copy(t: &std::sync::Mutex<RequestBuilder>) -> Result<RequestBuilder> {
            t.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .try_clone()
                .ok_or_else(|| Error::request("the paginated request cannot be re-sent"))
        }
        Ok(Self::with_parts(
            Arc::new(move || copy(&template)),
            Arc::new(move |url| copy(&t2).map(|r| r.follow(url))),
            pagination,
        ))
    }

    fn with_parts(make: MakeRequest, follow: FollowUrl, pagination: Pagination) -> Self {
        Pager {
            make,
            follow,
            pagination,
            items_at: None,
            page_size: None,
            max_pages: DEFAULT_MAX_PAGES,
            next: Next::First,
            pages: 0,
            limit_reached: false,
            seen_cursors: Vec::new(),
            queue: VecDeque::new(),
            _items: PhantomData,
        }
    }

    /// A pager over `GET path`.
    pub fn get<A: AuthState>(client: &Client<A>, path: &str, pagination: Pagination) -> Self {
        let path = path.to_owned();
        Self::new(client, move |c| c.get(&path), pagination)
    }

    /// Where the items are in each page: a JSON pointer (`/data/items`) or
    /// a top-level field name (`data`); `""` for a body that is the array.
    /// Default: the body when it is an array, else the first array among
    /// [`ITEM_FIELDS`].
    pub fn items_at(mut self, at: impl Into<String>) -> Self {
        self.items_at = Some(at.into());
        self
    }

    /// Sends the page size as the query parameter `param` on every page
    /// (for cursor, `starting_after`, page-number and first Link pages; an
    /// offset pager sends its own `limit`).
    pub fn page_size(mut self, param: impl Into<String>, size: u64) -> Self {
        self.page_size = Some((param.into(), size));
        self
    }

    /// Fetches at most `n` pages (default [`DEFAULT_MAX_PAGES`]).
    pub fn max_pages(mut self, n: u32) -> Self {
        self.max_pages = n;
        self
    }

    /// How many pages were fetched so far.
    pub fn pages_fetched(&self) -> u32 {
        self.pages
    }

    /// Whether the pager stopped at [`max_pages`](Self::max_pages) while the
    /// server had more.
    pub fn limit_reached(&self) -> bool {
        self.limit_reached
    }

    /// The next page, or `None` after the last one (or at the page limit).
    pub async fn next_page(&mut self) -> Result<Option<Page<T>>> {
        self.pagination.check()?;
        if matches!(self.next, Next::Done) {
            return Ok(None);
        }
        if self.pages >= self.max_pages {
            self.limit_reached = true;
            tracing::debug!(pages = self.pages, "pagination stopped at max_pages");
            self.next = Next::Done;
            return Ok(None);
        }
        let request = self.request()?;
        let response = request.send().await?.error_for_status()?;
        self.pages += 1;
        let body: Value = if response.content.is_empty() {
            Value::Null
        } else {
            response.json()?
        };
        let raw = self.items_of(&body, &response)?;
        let last_id = raw
            .last()
            .and_then(|item| lookup(item, self.id_field()).cloned());
        let count = raw.len() as u64;
        let mut items = Vec::with_capacity(raw.len());
        for (i, item) in raw.into_iter().enumerate() {
            items.push(serde_json::from_value(item).map_err(|e| Error::Decode {
                status: response.status,
                message: format!(
                    "item {i} of page {} is not the expected type: {e}",
                    self.pages
                ),
            })?);
        }
        self.next = self.after(&body, &response, count, last_id)?;
        Ok(Some(Page {
            items,
            number: self.pages,
            response,
        }))
    }

    fn id_field(&self) -> &str {
        match &self.pagination {
            Pagination::StartingAfter { id_field, .. } => id_field,
            _ => "id",
        }
    }

    fn request(&self) -> Result<RequestBuilder> {
        let size = |rb: RequestBuilder| match &self.page_size {
            Some((p, n)) => rb.query(p, n),
            None => rb,
        };
        Ok(match &self.next {
            Next::First => match &self.pagination {
                Pagination::Offset {
                    offset_param,
                    limit_param,
                    limit,
                    ..
                } => (self.make)()?
                    .query(limit_param, limit)
                    .query(offset_param, 0),
                Pagination::PageNumber { param, first, .. } => {
                    size((self.make)()?).query(param, first)
                }
                _ => size((self.make)()?),
            },
            Next::Param(p, v) => size((self.make)()?).query(p, v),
            Next::Offset(o) => match &self.pagination {
                Pagination::Offset {
                    offset_param,
                    limit_param,
                    limit,
                    ..
                } => (self.make)()?
                    .query(limit_param, limit)
                    .query(offset_param, o),
                _ => return Err(Error::request("offset page for a non-offset pager")),
            },
            Next::Page(n) => match &self.pagination {
                Pagination::PageNumber { param, .. } => size((self.make)()?).query(param, n),
                _ => return Err(Error::request("page number for a non-page pager")),
            },
            Next::Url(u) => (self.follow)(u)?,
            Next::Done => return Err(Error::request("the list has ended")),
        })
    }

    fn items_of(&self, body: &Value, response: &Response) -> Result<Vec<Value>> {
        let found = match &self.items_at {
            Some(at) => lookup(body, at),
            None => {
                if body.is_array() {
                    Some(body)
                } else {
                    ITEM_FIELDS
                        .iter()
                        .filter_map(|f| body.get(f))
                        .find(|v| v.is_array())
                }
            }
        };
        match found {
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(Value::Null) | None if body.is_null() => Ok(Vec::new()),
            _ => Err(Error::Decode {
                status: response.status,
                message: match &self.items_at {
                    Some(at) => format!("page {} has no array at {at:?}", self.pages),
                    None => format!(
                        "page {} is neither an array nor an object with one of the fields {ITEM_FIELDS:?}; say where the items are with `items_at`",
                        self.pages
                    ),
                },
            }),
        }
    }

    /// What comes after a page.
    fn after(
        &mut self,
        body: &Value,
        response: &Response,
        count: u64,
        last_id: Option<Value>,
    ) -> Result<Next> {
        Ok(match &self.pagination {
            Pagination::Cursor { param, field } => {
                match lookup(body, field).and_then(scalar_text) {
                    Some(c) if !c.is_empty() => {
                        if self.seen_cursors.contains(&c) {
                            return Err(Error::Decode {
                                status: response.status,
                                message: format!(
                                    "page {} returned cursor {c:?} again; stopping rather than looping",
                                    self.pages
                                ),
                            });
                        }
                        self.seen_cursors.push(c.clone());
                        Next::Param(param.clone(), c)
                    }
                    _ => Next::Done,
                }
            }
            Pagination::StartingAfter {
                param, has_more, ..
            } => {
                let more = lookup(body, has_more).and_then(Value::as_bool) == Some(true);
                match (more, last_id.as_ref().and_then(scalar_text)) {
                    (true, Some(id)) if count > 0 => Next::Param(param.clone(), id),
                    (true, None) if count > 0 => {
                        return Err(Error::Decode {
                            status: response.status,
                            message: format!(
                                "page {} says has_more but its last item has no {:?} field",
                                self.pages,
                                self.id_field()
                            ),
                        })
                    }
                    _ => Next::Done,
                }
            }
            Pagination::Offset {
                limit, total_field, ..
            } => {
                let offset = match &self.next {
                    Next::Offset(o) => *o,
                    _ => 0,
                };
                let next = offset + count;
                let total = total_field
                    .as_deref()
                    .and_then(|f| lookup(body, f))
                    .and_then(Value::as_u64);
                if count == 0 || count < *limit || total.is_some_and(|t| next >= t) {
                    Next::Done
                } else {
                    Next::Offset(next)
                }
            }
            Pagination::PageNumber {
                first,
                total_pages_field,
                ..
            } => {
                let page = match &self.next {
                    Next::Page(p) => *p,
                    _ => *first,
                };
                let total = total_pages_field
                    .as_deref()
                    .and_then(|f| lookup(body, f))
                    .and_then(Value::as_u64);
                let short = self.page_size.as_ref().is_some_and(|(_, n)| count < *n);
                if count == 0 || short || total.is_some_and(|t| page + 1 - first >= t) {
                    Next::Done
                } else {
                    Next::Page(page + 1)
                }
            }
            Pagination::LinkHeader => {
                let next = response
                    .headers
                    .get_all(http::header::LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(next_link);
                match next {
                    Some(link) => {
                        let url = response.url().join(&link).map_err(|e| Error::Decode {
                            status: response.status,
                            message: format!("the Link header's next URL {link:?} is invalid: {e}"),
                        })?;
                        if self.seen_cursors.contains(&url.to_string()) {
                            return Err(Error::Decode {
                                status: response.status,
                                message: format!(
                                    "page {} links to a page already fetched; stopping rather than looping",
                                    self.pages
                                ),
                            });
                        }
                        self.seen_cursors.push(url.to_string());
                        same_origin_or_error(response.url(), &url, response)?;
                        Next::Url(url.to_string())
                    }
                    None => Next::Done,
                }
            }
        })
    }

    /// The next item, fetching pages as needed; `None` at the end.
    pub async fn next_item(&mut self) -> Result<Option<T>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            match self.next_page().await? {
                Some(page) => self.queue.extend(page.items),
                None => return Ok(None),
            }
        }
    }

    /// [`next_item`](Self::next_item) for blocking callers.
    pub fn next_item_blocking(&mut self) -> Result<Option<T>> {
        runtime::block_on(self.next_item())?
    }

    /// [`next_page`](Self::next_page) for blocking callers.
    pub fn next_page_blocking(&mut self) -> Result<Option<Page<T>>> {
        runtime::block_on(self.next_page())?
    }

    /// Every page fetched into one `Vec` of items (bounded by
    /// [`max_pages`](Self::max_pages)).
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }

    /// [`collect_all`](Self::collect_all) for blocking callers.
    pub fn collect_all_blocking(self) -> Result<Vec<T>> {
        runtime::block_on(self.collect_all())?
    }
}

impl<T: DeserializeOwned + Send + 'static> Pager<T> {
    /// The items as a `futures` stream; it ends after the first error.
    pub fn items(self) -> impl futures_core::Stream<Item = Result<T>> + Send {
        futures_util::stream::unfold(Some(self), |p| async move {
            let mut p = p?;
            match p.next_item().await {
                Ok(Some(item)) => Some((Ok(item), Some(p))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// The pages as a `futures` stream; it ends after the first error.
    pub fn pages(self) -> impl futures_core::Stream<Item = Result<Page<T>>> + Send {
        futures_util::stream::unfold(Some(self), |p| async move {
            let mut p = p?;
            match p.next_page().await {
                Ok(Some(page)) => Some((Ok(page), Some(p))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// The items as an iterator for blocking callers; it ends after the
    /// first error.
    pub fn items_blocking(self) -> BlockingItems<T> {
        BlockingItems {
            pager: self,
            failed: false,
        }
    }

    /// The pages as an iterator for blocking callers; it ends after the
    /// first error.
    pub fn pages_blocking(self) -> BlockingPages<T> {
        BlockingPages {
            pager: self,
            failed: false,
        }
    }
}

// `Send` holds for every `T`: the pager keeps items of `T` (the queue), so
// it is `Send` when `T` is; the PhantomData is `fn() -> T`.

/// The items of a [`Pager`] for blocking callers.
#[derive(Debug)]
pub struct BlockingItems<T> {
    pager: Pager<T>,
    failed: bool,
}

impl<T> BlockingItems<T> {
    /// The pager (for [`Pager::pages_fetched`] and [`Pager::limit_reached`]).
    pub fn pager(&self) -> &Pager<T> {
        &self.pager
    }
}

impl<T: DeserializeOwned> Iterator for BlockingItems<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        if self.failed {
            return None;
        }
        match self.pager.next_item_blocking() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The pages of a [`Pager`] for blocking callers.
#[derive(Debug)]
pub struct BlockingPages<T> {
    pager: Pager<T>,
    failed: bool,
}

impl<T> BlockingPages<T> {
    /// The pager (for [`Pager::pages_fetched`] and [`Pager::limit_reached`]).
    pub fn pager(&self) -> &Pager<T> {
        &self.pager
    }
}

impl<T: DeserializeOwned> Iterator for BlockingPages<T> {
    type Item = Result<Page<T>>;
    fn next(&mut self) -> Option<Result<Page<T>>> {
        if self.failed {
            return None;
        }
        match self.pager.next_page_blocking() {
            Ok(Some(page)) => Some(Ok(page)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A `Link` header may send the next page to another origin; credentials
/// and signatures must not follow it there.
fn same_origin_or_error(from: &Url, to: &Url, response: &Response) -> Result<()> {
    if from.origin() == to.origin() {
        return Ok(());
    }
    Err(Error::Decode {
        status: response.status,
        message: format!(
            "the Link header's next page is on another origin ({}); not following it with this client's credentials",
            to.origin().ascii_serialization()
        ),
    })
}

/// A value at a JSON pointer (`/a/b`) or a top-level field (`a`; `a.b`
/// for nested fields).
fn lookup<'v>(value: &'v Value, at: &str) -> Option<&'v Value> {
    if at.is_empty() {
        return Some(value);
    }
    if at.starts_with('/') {
        return value.pointer(at);
    }
    at.split('.').try_fold(value, |v, k| v.get(k))
}

/// A string or number as text (cursors and ids are either).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of one `Link` header value (RFC 8288): links
/// are `<uri>; param; param`, separated by commas outside the `<>`.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        let after = &rest[end + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            let Some((k, v)) = p.split_once('=') else {
                return false;
            };
            k.trim().eq_ignore_ascii_case("rel")
                && v.trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_owned());
        }
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let h = r#"<https://api.github.com/r?page=2>; rel="next", <https://api.github.com/r?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/r?page=2")
        );
        let h = r#"</a?page=1>; rel="first", </a?page=3>; rel="prev next""#;
        assert_eq!(next_link(h).as_deref(), Some("/a?page=3"));
        assert_eq!(next_link(r#"</a>; rel="last""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(
            next_link(r#"</a?x=1,2>; REL=next"#).as_deref(),
            Some("/a?x=1,2")
        );
    }

    #[test]
    fn lookups() {
        let v: Value = serde_json::json!({"a": {"b": [1, 2]}, "c": "x"});
        assert_eq!(lookup(&v, "/a/b/1"), Some(&serde_json::json!(2)));
        assert_eq!(lookup(&v, "a.b").map(|v| v.is_array()), Some(true));
        assert_eq!(lookup(&v, "c").and_then(scalar_text).as_deref(), Some("x"));
        assert_eq!(lookup(&v, "nope"), None);
    }
}
