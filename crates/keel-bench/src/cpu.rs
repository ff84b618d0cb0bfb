//! CPU time of the whole client process (every thread, finished ones
//! included), from `CLOCK_PROCESS_CPUTIME_ID`: less noisy than wall-clock
//! on a shared machine, since time spent preempted does not count.

use nix::time::{clock_gettime, ClockId};

/// A running measurement of this process's CPU time.
pub struct CpuClock {
    start: Option<f64>,
}

fn now() -> Option<f64> {
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).ok()?;
    (t.tv_sec() >= 0 && t.tv_nsec() >= 0).then(|| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}

impl CpuClock {
    /// Starts measuring.
    pub fn start() -> CpuClock {
        CpuClock { start: now() }
    }

    /// CPU seconds the process used since [`start`](Self::start), if the
    /// clock is readable.
    pub fn seconds(&self) -> Option<f64> {
        Some((now()? - self.start?).max(0.0))
    }
}
