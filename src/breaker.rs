//! A circuit breaker for calls to outside services (the SMTP server now;
//! anything shopd calls over the network later).
//!
//! After `threshold` consecutive failures the breaker **opens** for
//! `open_for`: callers are told not to call (and when to try again) instead
//! of waiting for yet another timeout. When the time is up it is
//! **half-open**: exactly one caller gets a probe permit; a success closes
//! the breaker, a failure opens it again for another `open_for`.
//!
//! Hand-written (about 100 lines) rather than a crate: the crates on
//! crates.io wrap the call itself in their own future type and do not tell a
//! caller *until when* the circuit is open, which the job queue needs to
//! postpone a job without spending one of its attempts.
//!
//! # Invariants
//! - At most one probe is in flight while half-open.
//! - A permit that is dropped without a verdict counts as a failure (the
//!   call was cancelled, e.g. timed out).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the breaker currently does with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 open, 2 half-open (the metrics gauge).
    pub(crate) fn code(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    name: &'static str,
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
    opened: AtomicU64,
}

/// The right to make one call; report how it went with [`Permit::success`]
/// or [`Permit::failure`].
#[must_use]
pub(crate) struct Permit<'b> {
    breaker: &'b Breaker,
    done: bool,
}

impl Permit<'_> {
    pub(crate) fn success(mut self) {
        self.done = true;
        self.breaker.on_result(true);
    }

    pub(crate) fn failure(mut self) {
        self.done = true;
        self.breaker.on_result(false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.on_result(false);
        }
    }
}

impl Breaker {
    pub(crate) fn new(name: &'static str, threshold: u32, open_for: Duration) -> Breaker {
        Breaker {
            name,
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
            opened: AtomicU64::new(0),
        }
    }

    /// A permit to call, or the instant before which calls should not be
    /// made (open, or half-open with its probe in flight).
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, Instant> {
        let mut inner = self.lock();
        let now = Instant::now();
        match &mut *inner {
            Inner::Closed { .. } => {}
            Inner::Open { until } if now < *until => return Err(*until),
            Inner::Open { .. } => {
                tracing::info!(breaker = self.name, "circuit half-open: one probe call");
                *inner = Inner::HalfOpen { probing: true };
            }
            Inner::HalfOpen { probing } if *probing => return Err(now + self.open_for / 10),
            Inner::HalfOpen { probing } => *probing = true,
        }
        Ok(Permit {
            breaker: self,
            done: false,
        })
    }

    pub(crate) fn state(&self) -> BreakerState {
        match &*self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() < *until => BreakerState::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// How many times it opened since the process started.
    pub(crate) fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    fn on_result(&self, ok: bool) {
        let mut inner = self.lock();
        let open = |inner: &mut Inner| {
            *inner = Inner::Open {
                until: Instant::now() + self.open_for,
            };
            self.opened.fetch_add(1, Ordering::Relaxed);
        };
        match (&mut *inner, ok) {
            (Inner::Closed { failures }, true) => *failures = 0,
            (Inner::Closed { failures }, false) => {
                *failures += 1;
                if *failures >= self.threshold {
                    tracing::warn!(
                        breaker = self.name,
                        failures = *failures,
                        open_secs = self.open_for.as_secs_f64(),
                        "circuit opened"
                    );
                    open(&mut inner);
                }
            }
            (Inner::HalfOpen { .. }, true) => {
                tracing::info!(breaker = self.name, "circuit closed: the probe succeeded");
                *inner = Inner::Closed { failures: 0 };
            }
            (Inner::HalfOpen { .. }, false) => {
                tracing::warn!(
                    breaker = self.name,
                    "circuit opened again: the probe failed"
                );
                open(&mut inner);
            }
            // A call permitted before the circuit opened: its verdict changes
            // nothing now.
            (Inner::Open { .. }, _) => {}
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` half-changed
        // (every change is one assignment), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_once_and_closes_on_success() {
        let b = Breaker::new("t", 3, Duration::from_millis(50));
        for _ in 0..2 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.acquire().unwrap().success(); // resets the count
        for _ in 0..3 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_err(), "open: no calls");
        std::thread::sleep(Duration::from_millis(60));
        let probe = b.acquire().expect("half-open: one probe");
        assert!(b.acquire().is_err(), "only one probe at a time");
        probe.failure();
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(60));
        b.acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.times_opened(), 2);
        // A dropped permit is a failure.
        let b = Breaker::new("t", 1, Duration::from_secs(60));
        drop(b.acquire().unwrap());
        assert_eq!(b.state(), BreakerState::Open);
    }
}
