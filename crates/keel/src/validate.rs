//! Checks shared by every builder: header names and values, cookies, base
//! URLs, durations and sizes. The ground floor: nothing here knows about
//! clients.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue, COOKIE};
use url::Url;

use crate::error::{Error, Result};

/// The longest duration any setting accepts: a year. Longer values are
/// refused at build time (a timer that far away overflows some clocks);
/// use the setting's "none" form for no limit.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration setting that must be positive and at most [`MAX_DURATION`].
/// `what` names the setting as the caller wrote it (`"timeout"`); `none`
/// is the way to have no limit, when there is one (`"no_timeout()"`).
pub(crate) fn duration(what: &str, d: Duration, none: Option<&str>) -> Result<Duration> {
    let or_none = none.map(|n| format!(" or {n}")).unwrap_or_default();
    if d.is_zero() {
        return Err(Error::config(format!(
            "a zero {what} would fail every request; use a positive duration{or_none}"
        )));
    }
    if d > MAX_DURATION {
        return Err(Error::config(format!(
            "a {what} of {d:?} is longer than a year, the most Keel accepts; use a shorter one{or_none}"
        )));
    }
    Ok(d)
}

/// A duration setting that may be zero (a delay) but at most
/// [`MAX_DURATION`]; the message names the setting.
pub(crate) fn at_most_a_year(what: &str, d: Duration) -> std::result::Result<(), String> {
    if d > MAX_DURATION {
        return Err(format!(
            "{what} of {d:?} is longer than a year, the most Keel accepts; use a shorter one"
        ));
    }
    Ok(())
}

/// The `Cookie` header for `cookies` (name=value pairs joined by `; `).
pub(crate) fn cookie_header(cookies: &[(String, String)]) -> Result<Option<HeaderValue>> {
    if cookies.is_empty() {
        return Ok(None);
    }
    let joined = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    HeaderValue::from_str(&joined)
        .map(Some)
        .map_err(|_| Error::config("cookie header is not a valid header value"))
}

/// Checks a cookie against RFC 6265's grammar for names and values.
pub(crate) fn validate_cookie(name: &str, value: &str) -> Result<()> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if !name_ok {
        return Err(Error::config(format!(
            "cookie name {name:?} is not a valid token (letters, digits and !#$%&'*+-.^_`|~ only)"
        )));
    }
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
    {
        return Err(Error::config(format!(
            "the value of cookie {name:?} has characters a cookie cannot carry (space, quote, comma, semicolon, backslash or non-ASCII); percent-encode it first"
        )));
    }
    Ok(())
}

/// A header name and value, checked; `Cookie` is refused (cookies merge
/// through `cookie(name, value)`).
pub(crate) fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue)> {
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::config(format!(
            "{name:?} is not a valid header name (ASCII letters, digits and !#$%&'*+-.^_`|~ only)"
        ))
    })?;
    let v = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the value given for header {name:?} is not a valid header value (visible ASCII, no newlines)"
        ))
    })?;
    if n == COOKIE {
        return Err(Error::config(
            "set cookies with `cookie(name, value)` rather than a Cookie header, so they merge",
        ));
    }
    Ok((n, v))
}

/// A URL as the caller wrote it, fit for a message or `Debug`: without the
/// query string or fragment, and with any `user:password@` replaced by `…@`.
/// Works on text that does not parse as a URL too.
pub(crate) fn shown_raw_url(raw: &str) -> String {
    let raw = raw.trim();
    let cut = raw.split(['?', '#']).next().unwrap_or_default();
    let mut shown = cut.to_owned();
    if let Some(scheme_end) = cut.find("://") {
        let rest = &cut[scheme_end + 3..];
        let authority = rest.split('/').next().unwrap_or_default();
        if let Some(at) = authority.rfind('@') {
            shown = format!("{}…{}", &cut[..scheme_end + 3], &rest[at..]);
        }
    }
    if cut.len() < raw.len() {
        shown.push_str("?…");
    }
    shown
}

/// Parses and normalises a base URL.
pub(crate) fn parse_base_url(raw: &str) -> Result<(String, Option<String>)> {
    let shown = shown_raw_url(raw);
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(format!(
            "base URL {shown:?} is not a valid absolute URL ({e}); write it like https://api.example.com/v1"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "base URL {shown:?} must use http or https, not {:?}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(format!("base URL {shown:?} has no host")));
    }
    if url.fragment().is_some() {
        return Err(Error::config(format!(
            "base URL {shown:?} has a #fragment, which is never sent; remove it"
        )));
    }
    let mut base = String::with_capacity(raw.len());
    base.push_str(url.scheme());
    base.push_str("://");
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "base URL must not carry user:password; use HttpAuthenticatedClient with Scheme::basic()",
        ));
    }
    base.push_str(&url[url::Position::BeforeHost..url::Position::AfterPort]);
    base.push_str(url.path().trim_end_matches('/'));
    Ok((base, url.query().map(str::to_owned)))
}
