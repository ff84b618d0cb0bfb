//! The retry budget: a token bucket that caps retries as a share of traffic.
//!
//! The same scheme as the AWS SDKs' standard retry quota (with the costs of
//! their 2026 retry behaviour): the bucket starts full; every retry takes
//! `retry_cost` tokens after a transient error (14), `throttle_cost` after
//! the server throttled (5: it asked us to slow down, it is not failing),
//! `timeout_cost` after a timeout (14, like any transient error); a call
//! that succeeds at its first attempt puts `success_refund` back, and a call
//! that succeeds after retrying puts back what its last retry took. When the bucket cannot pay for a retry, the
//! call ends with its last outcome instead. A server that fails most calls
//! thus sees about one retry per `retry_cost / success_refund` successes
//! instead of a storm.

use std::sync::atomic::{AtomicU32, Ordering};

/// A retry budget. Set it with
/// [`ResilienceBuilder::retry_budget`](super::ResilienceBuilder::retry_budget).
///
/// ```
/// // 50 tokens, 5 per retry: at most 10 retries before successes refill it.
/// let budget = keel::resilience::RetryBudget::new(50).retry_cost(5);
/// # let _ = budget;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    pub(crate) capacity: u32,
    pub(crate) retry_cost: u32,
    pub(crate) timeout_cost: u32,
    pub(crate) throttle_cost: u32,
    pub(crate) success_refund: u32,
}

impl Default for RetryBudget {
    /// The AWS SDKs' standard quota with their 2026 costs: 500 tokens, 14
    /// per retry after a transient error or a timeout, 5 per retry after a
    /// throttling answer, 1 back per first-attempt success.
    fn default() -> Self {
        RetryBudget {
            capacity: 500,
            retry_cost: 14,
            timeout_cost: 14,
            throttle_cost: 5,
            success_refund: 1,
        }
    }
}

impl RetryBudget {
    /// A budget of `capacity` tokens with the standard costs (14 per retry
    /// after a transient error or timeout, 5 after a throttling answer, 1
    /// back per first-attempt success).
    pub fn new(capacity: u32) -> Self {
        RetryBudget {
            capacity,
            ..RetryBudget::default()
        }
    }

    /// Tokens a retry takes (at least 1).
    pub fn retry_cost(mut self, cost: u32) -> Self {
        self.retry_cost = cost;
        self
    }

    /// Tokens a retry after a timeout takes (at least 1).
    pub fn timeout_cost(mut self, cost: u32) -> Self {
        self.timeout_cost = cost;
        self
    }

    /// Tokens a retry after a throttling answer takes (at least 1): 429, a
    /// 503 with `Retry-After`, or a status in
    /// [`throttle_statuses`](super::ResilienceBuilder::throttle_statuses).
    pub fn throttle_cost(mut self, cost: u32) -> Self {
        self.throttle_cost = cost;
        self
    }

    /// Tokens a call that succeeds at its first attempt puts back.
    pub fn success_refund(mut self, refund: u32) -> Self {
        self.success_refund = refund;
        self
    }

    /// Tokens the bucket holds when full (and when new).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// What a retry takes from the bucket: `throttle_cost` after a
    /// throttling answer, `timeout_cost` after a timeout, `retry_cost`
    /// otherwise.
    pub(crate) fn cost(&self, after_timeout: bool, throttled: bool) -> u32 {
        if throttled {
            self.throttle_cost
        } else if after_timeout {
            self.timeout_cost
        } else {
            self.retry_cost
        }
    }

    /// What a successful call puts back: `last_retry_cost` is what its last
    /// retry took (0 when it succeeded at its first attempt).
    pub(crate) fn refund(&self, last_retry_cost: u32) -> u32 {
        if last_retry_cost == 0 {
            self.success_refund
        } else {
            last_retry_cost
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.capacity == 0 {
            return Err("retry budget `capacity` must be at least 1".into());
        }
        if self.retry_cost == 0 || self.timeout_cost == 0 || self.throttle_cost == 0 {
            return Err("retry budget costs must be at least 1 (remove the budget with `no_retry_budget()` for unlimited retries)".into());
        }
        if self.success_refund > self.capacity {
            return Err(format!(
                "retry budget `success_refund` ({}) cannot exceed its capacity ({})",
                self.success_refund, self.capacity
            ));
        }
        Ok(())
    }
}

/// The live bucket, shared by every call of a client family.
#[derive(Debug)]
pub(crate) struct Bucket {
    config: RetryBudget,
    tokens: AtomicU32,
}

impl Bucket {
    pub(crate) fn new(config: RetryBudget) -> Self {
        Bucket {
            tokens: AtomicU32::new(config.capacity),
            config,
        }
    }

    /// Takes `tokens` if the bucket holds that many; `false` (taking
    /// nothing) otherwise.
    pub(crate) fn take(&self, tokens: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                t.checked_sub(tokens)
            })
            .is_ok()
    }

    /// Puts `tokens` back, up to the capacity.
    pub(crate) fn put(&self, tokens: u32) {
        if tokens == 0 {
            return;
        }
        let cap = self.config.capacity;
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(tokens).min(cap))
            });
    }

    /// Whether the bucket is full, so indistinguishable from a new one.
    pub(crate) fn is_full(&self) -> bool {
        self.tokens.load(Ordering::Acquire) >= self.config.capacity
    }

    /// Takes the cost of one retry; `None` when the bucket cannot pay.
    #[cfg(test)]
    pub(crate) fn withdraw(&self, after_timeout: bool) -> Option<u32> {
        let cost = self.config.cost(after_timeout, false);
        self.take(cost).then_some(cost)
    }

    /// Records a successful call: `last_retry_cost` is what its last retry
    /// took (0 when it succeeded at once).
    #[cfg(test)]
    pub(crate) fn on_success(&self, last_retry_cost: u32) {
        self.put(self.config.refund(last_retry_cost));
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stop_when_the_bucket_is_empty_and_successes_refill_it() {
        let b = Bucket::new(RetryBudget::new(12).retry_cost(5).timeout_cost(10));
        assert_eq!(b.withdraw(false), Some(5));
        assert_eq!(b.withdraw(false), Some(5));
        assert_eq!(b.tokens(), 2);
        assert_eq!(b.withdraw(false), None);
        assert_eq!(b.tokens(), 2, "a refused withdrawal takes nothing");
        // Three first-attempt successes: +3.
        for _ in 0..3 {
            b.on_success(0);
        }
        assert_eq!(b.withdraw(false), Some(5));
        assert_eq!(b.tokens(), 0);
        // A success after a retry returns that retry's cost.
        b.on_success(5);
        assert_eq!(b.tokens(), 5);
        assert_eq!(b.withdraw(true), None, "a timeout retry costs 10");
    }

    #[test]
    fn refunds_never_exceed_capacity() {
        let b = Bucket::new(RetryBudget::new(10));
        b.on_success(5);
        b.on_success(0);
        assert_eq!(b.tokens(), 10);
    }

    #[test]
    fn most_calls_failing_exhausts_the_budget() {
        // 100 calls, 90 % failing at the first attempt, standard costs and a
        // 50-token bucket: retries stop after the bucket drains, while
        // without a budget every failing call would retry.
        let b = Bucket::new(RetryBudget::new(50).retry_cost(5));
        let mut retries = 0;
        for i in 0..100 {
            if i % 10 == 0 {
                b.on_success(0);
            } else if b.withdraw(false).is_some() {
                retries += 1;
            }
        }
        assert!(retries <= 12, "{retries} retries");
        assert!(retries >= 10, "{retries} retries");
    }

    #[test]
    fn throttling_costs_less_than_a_transient_error() {
        let b = RetryBudget::default();
        assert_eq!(b.cost(false, false), 14);
        assert_eq!(b.cost(true, false), 14);
        assert_eq!(b.cost(false, true), 5);
        assert_eq!(b.cost(true, true), 5);
        assert!(RetryBudget::new(5).throttle_cost(0).validate().is_err());
    }

    #[test]
    fn validation() {
        assert!(RetryBudget::default().validate().is_ok());
        assert!(RetryBudget::new(0).validate().is_err());
        assert!(RetryBudget::new(5).retry_cost(0).validate().is_err());
        assert!(RetryBudget::new(5).success_refund(6).validate().is_err());
    }
}
