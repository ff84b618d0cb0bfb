//! Reading the server's own limits: the rate-limit headers a response
//! carries, read through a mapping table per API, and the pacing they ask
//! for. Pure code: the time is an argument.
//!
//! | preset | headers read | reset is |
//! |---|---|---|
//! | [`LimitHeaders::ietf`] | `RateLimit: "name";r=R;t=T` with `RateLimit-Policy: "name";q=Q;w=W` (draft-ietf-httpapi-ratelimit-headers), or the older `RateLimit-Limit` / `-Remaining` / `-Reset` | seconds from now |
//! | [`LimitHeaders::x_ratelimit`] | `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` | seconds from now, or a Unix time when the value is one (GitHub, Discord style) |
//! | [`LimitHeaders::binance_spot`] | `X-MBX-USED-WEIGHT-1M` (weight used this minute) against 6 000 a minute | the next minute boundary |
//! | [`LimitHeaders::bybit`] | `X-Bapi-Limit`, `X-Bapi-Limit-Status` (remaining), `X-Bapi-Limit-Reset-Timestamp` | a Unix time in ms |
//! | [`LimitHeaders::kucoin`] | `gw-ratelimit-limit`, `gw-ratelimit-remaining`, `gw-ratelimit-reset` | ms from now |
//! | [`LimitHeaders::used_weight`] | any "used so far" header, with its capacity and window | the next window boundary |
//! | [`LimitHeaders::fields`] | any limit / remaining / reset header names | as configured ([`ResetUnit`]) |
//! | [`LimitHeaders::standard`] (default when enabled) | IETF first, then `X-RateLimit-*` | |

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderName};
use tokio::time::Instant;

/// What one response said about the client's quota at the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerQuota {
    /// The quota of the window, when the server says.
    pub limit: Option<u64>,
    /// Requests (or weight) left in the current window.
    pub remaining: u64,
    /// When the window resets, from now.
    pub reset: Duration,
}

/// How a reset header counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetUnit {
    /// Seconds from now (`X-RateLimit-Reset: 30`).
    DeltaSeconds,
    /// A Unix time in seconds (`X-RateLimit-Reset: 1735689600`).
    UnixSeconds,
    /// A Unix time in milliseconds.
    UnixMillis,
    /// Milliseconds from now (KuCoin's `gw-ratelimit-reset`).
    DeltaMillis,
    /// A Unix time in seconds when the value is past 10⁹ (2001), seconds
    /// from now otherwise: what APIs that use either send.
    Auto,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ietf,
    Fields {
        limit: Option<HeaderName>,
        remaining: HeaderName,
        reset: Option<HeaderName>,
        unit: ResetUnit,
    },
    UsedWeight {
        used: HeaderName,
        capacity: u64,
        window: Duration,
    },
    FirstOf(Vec<LimitHeaders>),
}

/// How to read a server's rate-limit headers: one of the presets, or your
/// own header names. Enable it with
/// [`ResilienceBuilder::server_limits`](super::ResilienceBuilder::server_limits).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitHeaders {
    kind: Kind,
}

fn name(n: &'static str) -> HeaderName {
    HeaderName::from_static(n)
}

impl LimitHeaders {
    /// The IETF fields: `RateLimit` (`"policy";r=remaining;t=seconds`, the
    /// member with the fewest remaining wins) and `RateLimit-Policy`
    /// (`q=quota`), or the earlier drafts' separate `RateLimit-Limit`,
    /// `RateLimit-Remaining` and `RateLimit-Reset`.
    pub fn ietf() -> Self {
        LimitHeaders { kind: Kind::Ietf }
    }

    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
    /// (seconds from now, or a Unix time: [`ResetUnit::Auto`]).
    pub fn x_ratelimit() -> Self {
        Self::fields_named(
            Some(name("x-ratelimit-limit")),
            name("x-ratelimit-remaining"),
            Some(name("x-ratelimit-reset")),
            ResetUnit::Auto,
        )
    }

    /// Binance spot: `X-MBX-USED-WEIGHT-1M`, the request weight used in the
    /// current minute, against the documented 6 000 a minute per IP.
    pub fn binance_spot() -> Self {
        LimitHeaders {
            kind: Kind::UsedWeight {
                used: name("x-mbx-used-weight-1m"),
                capacity: 6000,
                window: Duration::from_secs(60),
            },
        }
    }

    /// Bybit v5: `X-Bapi-Limit` (the endpoint's limit), `X-Bapi-Limit-Status`
    /// (requests left) and `X-Bapi-Limit-Reset-Timestamp` (a Unix time in
    /// ms; Bybit's "Rate Limit" page).
    pub fn bybit() -> Self {
        Self::fields_named(
            Some(name("x-bapi-limit")),
            name("x-bapi-limit-status"),
            Some(name("x-bapi-limit-reset-timestamp")),
            ResetUnit::UnixMillis,
        )
    }

    /// KuCoin: `gw-ratelimit-limit` (the resource pool's quota),
    /// `gw-ratelimit-remaining` and `gw-ratelimit-reset` (ms until the pool
    /// refills; KuCoin's "Rate Limit" page).
    pub fn kucoin() -> Self {
        Self::fields_named(
            Some(name("gw-ratelimit-limit")),
            name("gw-ratelimit-remaining"),
            Some(name("gw-ratelimit-reset")),
            ResetUnit::DeltaMillis,
        )
    }

    /// A "used so far" header against `capacity` per `window`, windows
    /// aligned to the Unix epoch (as Binance's minutes are). Fails with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a bad header
    /// name, a zero capacity or a window under one second.
    pub fn used_weight(header: &str, capacity: u64, window: Duration) -> crate::Result<Self> {
        let used = parse_name(header)?;
        if capacity == 0 || window < Duration::from_secs(1) {
            return Err(crate::Error::config(
                "server limits: a used-weight header needs a capacity of at least 1 and a window of at least 1 s",
            ));
        }
        Ok(LimitHeaders {
            kind: Kind::UsedWeight {
                used,
                capacity,
                window,
            },
        })
    }

    /// Your own header names: `remaining` is required, `limit` and `reset`
    /// are optional (without a reset, a window of one second is assumed).
    /// Fails with [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a
    /// bad header name.
    pub fn fields(
        limit: Option<&str>,
        remaining: &str,
        reset: Option<&str>,
        unit: ResetUnit,
    ) -> crate::Result<Self> {
        Ok(Self::fields_named(
            limit.map(parse_name).transpose()?,
            parse_name(remaining)?,
            reset.map(parse_name).transpose()?,
            unit,
        ))
    }

    fn fields_named(
        limit: Option<HeaderName>,
        remaining: HeaderName,
        reset: Option<HeaderName>,
        unit: ResetUnit,
    ) -> Self {
        LimitHeaders {
            kind: Kind::Fields {
                limit,
                remaining,
                reset,
                unit,
            },
        }
    }

    /// The first of `tables` that finds its headers in a response.
    pub fn first_of(tables: impl IntoIterator<Item = LimitHeaders>) -> Self {
        LimitHeaders {
            kind: Kind::FirstOf(tables.into_iter().collect()),
        }
    }

    /// IETF first, then `X-RateLimit-*`.
    pub fn standard() -> Self {
        Self::first_of([Self::ietf(), Self::x_ratelimit()])
    }

    /// What `headers` say about the quota, at wall-clock time `now` (for
    /// Unix-time resets and aligned windows); `None` when they say nothing
    /// this table understands.
    pub fn read(&self, headers: &HeaderMap, now: SystemTime) -> Option<ServerQuota> {
        match &self.kind {
            Kind::Ietf => read_ietf(headers),
            Kind::Fields {
                limit,
                remaining,
                reset,
                unit,
            } => {
                let remaining = number(headers, remaining)?;
                let limit = limit.as_ref().and_then(|n| number(headers, n));
                let reset = match reset {
                    Some(r) => reset_in(number(headers, r)?, *unit, now),
                    None => Duration::from_secs(1),
                };
                Some(ServerQuota {
                    limit,
                    remaining,
                    reset,
                })
            }
            Kind::UsedWeight {
                used,
                capacity,
                window,
            } => {
                let used = number(headers, used)?;
                let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
                let w = window.as_millis().max(1);
                let into = since_epoch.as_millis() % w;
                let reset = Duration::from_millis((w - into) as u64);
                Some(ServerQuota {
                    limit: Some(*capacity),
                    remaining: capacity.saturating_sub(used),
                    reset,
                })
            }
            Kind::FirstOf(tables) => tables.iter().find_map(|t| t.read(headers, now)),
        }
    }
}

fn parse_name(n: &str) -> crate::Result<HeaderName> {
    HeaderName::from_bytes(n.as_bytes())
        .map_err(|_| crate::Error::config(format!("server limits: {n:?} is not a header name")))
}

fn number(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    // Some servers send "12.0" or a list ("100, 100;w=60"): take the
    // leading integer.
    let digits: &str = &v[..v.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().ok()
}

fn reset_in(value: u64, unit: ResetUnit, now: SystemTime) -> Duration {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let at = |t: Duration| t.saturating_sub(since_epoch);
    match unit {
        ResetUnit::DeltaSeconds => Duration::from_secs(value),
        ResetUnit::UnixSeconds => at(Duration::from_secs(value)),
        ResetUnit::UnixMillis => at(Duration::from_millis(value)),
        ResetUnit::DeltaMillis => Duration::from_millis(value),
        ResetUnit::Auto if value > 1_000_000_000 => at(Duration::from_secs(value)),
        ResetUnit::Auto => Duration::from_secs(value),
    }
}

/// One member of a structured-field list: its name and integer parameters.
struct Member<'a> {
    name: &'a str,
    params: Vec<(&'a str, u64)>,
}

/// Splits an RFC 9651 list of items with parameters, far enough for the
/// RateLimit fields: `"name";r=5;t=30, other;r=1`. Members it cannot read
/// are skipped; inner lists and non-integer parameters are ignored.
fn members(value: &str) -> Vec<Member<'_>> {
    let mut out = Vec::new();
    let mut rest = value;
    while !rest.trim().is_empty() {
        // Split off one member at a comma outside quotes.
        let mut in_quote = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '\\' if in_quote && !escaped => {
                    escaped = true;
                    continue;
                }
                '"' if !escaped => in_quote = !in_quote,
                ',' if !in_quote => {
                    end = i;
                    break;
                }
                _ => {}
            }
            escaped = false;
        }
        let member = rest[..end].trim();
        rest = rest.get(end + 1..).unwrap_or("");
        let mut parts = member.split(';');
        let name = parts.next().unwrap_or("").trim().trim_matches('"');
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k.trim(), v.trim().parse::<u64>().ok()?))
            })
            .collect();
        out.push(Member { name, params });
    }
    out
}

fn param(m: &Member<'_>, key: &str) -> Option<u64> {
    m.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn read_ietf(headers: &HeaderMap) -> Option<ServerQuota> {
    let joined = |n: &str| -> Option<String> {
        let vals: Vec<&str> = headers
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!vals.is_empty()).then(|| vals.join(","))
    };
    if let Some(v) = joined("ratelimit") {
        let fields = members(&v);
        // Draft 7 and earlier: `RateLimit: limit=100, remaining=50, reset=5`.
        let legacy = |k: &str| {
            fields.iter().find_map(|m| {
                m.name
                    .strip_prefix(k)?
                    .strip_prefix('=')?
                    .trim()
                    .parse()
                    .ok()
            })
        };
        if let Some(remaining) = legacy("remaining") {
            return Some(ServerQuota {
                limit: legacy("limit"),
                remaining,
                reset: Duration::from_secs(legacy("reset").unwrap_or(1)),
            });
        }
        let policies = joined("ratelimit-policy").unwrap_or_default();
        let policies = members(&policies);
        // The policy with the fewest remaining is the one that binds.
        let tightest = fields
            .iter()
            .filter_map(|m| Some((m, param(m, "r")?)))
            .min_by_key(|(_, r)| *r)?;
        let (m, remaining) = tightest;
        let policy = policies.iter().find(|p| p.name == m.name);
        let reset = param(m, "t")
            .or_else(|| policy.and_then(|p| param(p, "w")))
            .unwrap_or(1);
        return Some(ServerQuota {
            limit: policy.and_then(|p| param(p, "q")),
            remaining,
            reset: Duration::from_secs(reset),
        });
    }
    let remaining = number(headers, &name("ratelimit-remaining"))?;
    Some(ServerQuota {
        limit: number(headers, &name("ratelimit-limit")),
        remaining,
        reset: Duration::from_secs(number(headers, &name("ratelimit-reset")).unwrap_or(1)),
    })
}

/// Paces requests by what the server said: the quota left in its window,
/// spent evenly over the time to the reset once it runs low.
///
/// After each response with rate-limit headers the client
/// [`observe`](Self::observe)s the quota; before each attempt it asks
/// [`admit`](Self::admit). While more than `low_water` (10 % by default) of
/// the window's quota is left, requests go at once. Below it, they are
/// spaced `time to reset / remaining` apart, so the remainder lasts until
/// the window resets; with nothing left, the next request waits for the
/// reset. Requests admitted since the last observation count against the
/// remainder, so concurrent callers do not all spend the same last permit.
#[derive(Debug, Clone)]
pub(crate) struct ServerPacer {
    low_water: f64,
    window_end: Option<Instant>,
    remaining: u64,
    limit: Option<u64>,
    next_at: Option<Instant>,
}

impl ServerPacer {
    pub(crate) fn new(low_water: f64) -> Self {
        ServerPacer {
            low_water,
            window_end: None,
            remaining: 0,
            limit: None,
            next_at: None,
        }
    }

    /// Takes in what a response said, at `now`.
    pub(crate) fn observe(&mut self, quota: ServerQuota, now: Instant) {
        self.window_end = Some(now + quota.reset);
        self.remaining = quota.remaining;
        self.limit = quota.limit;
    }

    fn low(&self) -> bool {
        match self.limit {
            Some(limit) if limit > 0 => (self.remaining as f64) <= self.low_water * limit as f64,
            // Without the window's quota, "low" is a handful left.
            _ => self.remaining <= 5,
        }
    }

    /// `None`: go now (and count it). `Some(wait)`: ask again after `wait`.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<Duration> {
        let end = self.window_end?;
        if now >= end {
            // The window the server spoke of is over: nothing is known.
            self.window_end = None;
            self.next_at = None;
            return None;
        }
        if self.remaining == 0 {
            return Some(end - now);
        }
        if self.low() {
            if let Some(at) = self.next_at {
                if now < at {
                    return Some(at - now);
                }
            }
            let spacing = (end - now) / u32::try_from(self.remaining).unwrap_or(u32::MAX);
            self.next_at = Some(now + spacing);
        }
        self.remaining -= 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    fn q(limit: Option<u64>, remaining: u64, reset: u64) -> Option<ServerQuota> {
        Some(ServerQuota {
            limit,
            remaining,
            reset: Duration::from_secs(reset),
        })
    }

    #[test]
    fn ietf_structured_fields_pick_the_tightest_policy() {
        let h = headers(&[
            ("ratelimit", "\"burst\";r=50;t=5, \"day\";r=7;t=3600"),
            (
                "ratelimit-policy",
                "\"burst\";q=100;w=60, \"day\";q=1000;w=86400",
            ),
        ]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), q(Some(1000), 7, 3600));
        // Without t, the policy's window; without a policy, no limit.
        let h = headers(&[
            ("ratelimit", "default;r=3"),
            ("ratelimit-policy", "default;q=10;w=60"),
        ]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), q(Some(10), 3, 60));
        let h = headers(&[("ratelimit", "\"a,b\";r=2;t=9")]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), q(None, 2, 9));
    }

    #[test]
    fn ietf_earlier_drafts() {
        let h = headers(&[("ratelimit", "limit=100, remaining=50, reset=5")]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), q(Some(100), 50, 5));
        let h = headers(&[
            ("ratelimit-limit", "100"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "12"),
        ]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), q(Some(100), 0, 12));
        assert_eq!(LimitHeaders::ietf().read(&HeaderMap::new(), at(0)), None);
        let h = headers(&[("ratelimit", "garbage;;;=, \"unterminated")]);
        assert_eq!(LimitHeaders::ietf().read(&h, at(0)), None);
    }

    #[test]
    fn x_ratelimit_reset_is_delta_or_unix_time() {
        let now = 1_700_000_000;
        let h = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "59"),
            ("x-ratelimit-reset", "1700000030"),
        ]);
        assert_eq!(
            LimitHeaders::x_ratelimit().read(&h, at(now)),
            q(Some(60), 59, 30)
        );
        let h = headers(&[("x-ratelimit-remaining", "4"), ("x-ratelimit-reset", "20")]);
        assert_eq!(
            LimitHeaders::x_ratelimit().read(&h, at(now)),
            q(None, 4, 20)
        );
        // A reset in the past is now.
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1600000000"),
        ]);
        assert_eq!(LimitHeaders::x_ratelimit().read(&h, at(now)), q(None, 0, 0));
        // The standard table falls through to X-RateLimit-*.
        assert_eq!(LimitHeaders::standard().read(&h, at(now)), q(None, 0, 0));
    }

    #[test]
    fn binance_used_weight_counts_down_to_the_next_minute() {
        let h = headers(&[("x-mbx-used-weight-1m", "5990")]);
        // 20 s into a minute: 40 s to go.
        let now = at(1_700_000_000 - 1_700_000_000 % 60 + 20);
        assert_eq!(
            LimitHeaders::binance_spot().read(&h, now),
            q(Some(6000), 10, 40)
        );
        let over = headers(&[("x-mbx-used-weight-1m", "7000")]);
        assert_eq!(
            LimitHeaders::binance_spot().read(&over, now),
            q(Some(6000), 0, 40)
        );
        let custom = LimitHeaders::used_weight("X-Used", 100, Duration::from_secs(10)).unwrap();
        let h = headers(&[("x-used", "30")]);
        assert_eq!(custom.read(&h, at(105)), q(Some(100), 70, 5));
        assert!(LimitHeaders::used_weight("bad header", 1, Duration::from_secs(1)).is_err());
        assert!(LimitHeaders::used_weight("x", 0, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn bybit_and_kucoin_tables() {
        let now = 1_700_000_000;
        let h = headers(&[
            ("x-bapi-limit", "10"),
            ("x-bapi-limit-status", "3"),
            ("x-bapi-limit-reset-timestamp", "1700000002000"),
        ]);
        assert_eq!(LimitHeaders::bybit().read(&h, at(now)), q(Some(10), 3, 2));
        let h = headers(&[
            ("gw-ratelimit-limit", "2000"),
            ("gw-ratelimit-remaining", "1997"),
            ("gw-ratelimit-reset", "29000"),
        ]);
        assert_eq!(
            LimitHeaders::kucoin().read(&h, at(now)),
            q(Some(2000), 1997, 29)
        );
        // Each reads its own headers only.
        assert_eq!(LimitHeaders::bybit().read(&h, at(now)), None);
    }

    #[test]
    fn custom_fields() {
        let t = LimitHeaders::fields(
            Some("x-q"),
            "x-left",
            Some("x-reset-ms"),
            ResetUnit::UnixMillis,
        )
        .unwrap();
        let h = headers(&[("x-q", "10"), ("x-left", "3"), ("x-reset-ms", "1000002500")]);
        assert_eq!(
            t.read(&h, at(1_000_000)),
            Some(ServerQuota {
                limit: Some(10),
                remaining: 3,
                reset: Duration::from_millis(2500)
            })
        );
        assert!(LimitHeaders::fields(None, "", None, ResetUnit::Auto).is_err());
    }

    #[test]
    fn pacing_goes_freely_then_spreads_the_rest_then_waits_for_the_reset() {
        let t0 = Instant::now();
        let mut p = ServerPacer::new(0.1);
        assert_eq!(p.admit(t0), None, "nothing known: go");
        p.observe(
            ServerQuota {
                limit: Some(100),
                remaining: 50,
                reset: Duration::from_secs(10),
            },
            t0,
        );
        for _ in 0..40 {
            assert_eq!(p.admit(t0), None, "plenty left");
        }
        // 10 left of 100: low water. They are spaced 10 s / 10 = 1 s apart.
        assert_eq!(p.admit(t0), None);
        assert_eq!(p.admit(t0), Some(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(p.admit(t1), None);
        // A response says nothing is left: wait for the reset.
        p.observe(
            ServerQuota {
                limit: Some(100),
                remaining: 0,
                reset: Duration::from_secs(3),
            },
            t1,
        );
        assert_eq!(p.admit(t1), Some(Duration::from_secs(3)));
        assert_eq!(
            p.admit(t1 + Duration::from_secs(3)),
            None,
            "the window is over"
        );
        assert_eq!(p.admit(t1 + Duration::from_secs(3)), None);
    }

    #[test]
    fn concurrent_admissions_spend_the_remainder_once() {
        let t0 = Instant::now();
        let mut p = ServerPacer::new(0.0);
        p.observe(
            ServerQuota {
                limit: Some(100),
                remaining: 3,
                reset: Duration::from_secs(30),
            },
            t0,
        );
        let admitted = (0..10).filter(|_| p.admit(t0).is_none()).count();
        assert_eq!(admitted, 3);
        assert_eq!(p.admit(t0), Some(Duration::from_secs(30)));
    }
}
