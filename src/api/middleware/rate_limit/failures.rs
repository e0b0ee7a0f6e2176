//! What failures cost, as opposed to requests: failed credential checks per
//! client address, and failed sign-ins per (email, address) pair and per
//! email.
//!
//! Sign-in throttling follows OWASP's Authentication Cheat Sheet
//! ("Protect Against Automated Attacks", "Account Lockout") and its
//! *Blocking Brute Force Attacks* page: count **failures only**, block a
//! guesser by the pair of account and address it guesses from (so nobody
//! can lock a victim out from another address), and for guessing spread
//! over many addresses slow every attempt on that account down
//! progressively instead of locking it — the right password still works,
//! later. A successful sign-in or password reset clears the account's
//! count.
//!
//! A counter is a fixed window per key (`limit` failures per `window`);
//! keys whose window is over are dropped by [`Failures::sweep`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures per key within a window.
pub(crate) struct Failures<K> {
    limit: u32,
    window: Duration,
    map: Mutex<HashMap<K, (u32, Instant)>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    pub(crate) fn new(limit: u32, window: Duration) -> Failures<K> {
        Failures {
            limit: limit.max(1),
            window,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Failures of `key` in its current window.
    pub(crate) fn count(&self, key: &K) -> u32 {
        let Ok(map) = self.map.lock() else { return 0 };
        match map.get(key) {
            Some((n, since)) if since.elapsed() < self.window => *n,
            _ => 0,
        }
    }

    /// When `key` has used its failures: how long until its window ends.
    pub(crate) fn blocked(&self, key: &K) -> Option<Duration> {
        let Ok(map) = self.map.lock() else {
            return None;
        };
        match map.get(key) {
            Some((n, since)) if *n >= self.limit && since.elapsed() < self.window => {
                Some(self.window - since.elapsed())
            }
            _ => None,
        }
    }

    /// One more failure of `key`; its count now.
    pub(crate) fn failed(&self, key: K) -> u32 {
        let Ok(mut map) = self.map.lock() else {
            return 0;
        };
        let entry = map.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.0
    }

    /// Forgets `key`'s failures.
    pub(crate) fn clear(&self, key: &K) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }

    /// The keys `matches` selects (to clear them).
    pub(crate) fn keys_where(&self, matches: impl Fn(&K) -> bool) -> Vec<K> {
        self.map
            .lock()
            .map(|map| map.keys().filter(|k| matches(k)).cloned().collect())
            .unwrap_or_default()
    }

    /// Drops keys whose window is over.
    pub(crate) fn sweep(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, (_, since)| since.elapsed() < self.window);
            map.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_blocked_after_its_failures_and_cleared_by_a_success() {
        let f = Failures::new(3, Duration::from_secs(60));
        assert_eq!(f.blocked(&"a"), None);
        assert_eq!((f.failed("a"), f.failed("a")), (1, 2));
        assert_eq!(f.blocked(&"a"), None);
        f.failed("a");
        assert!(
            f.blocked(&"a")
                .is_some_and(|d| d <= Duration::from_secs(60))
        );
        assert_eq!(f.blocked(&"b"), None, "keys are apart");
        f.clear(&"a");
        assert_eq!((f.blocked(&"a"), f.count(&"a")), (None, 0));
        let short = Failures::new(1, Duration::from_millis(20));
        short.failed("a");
        assert!(short.blocked(&"a").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(short.blocked(&"a"), None, "the window ends");
        short.sweep();
        assert_eq!(short.map.lock().unwrap().len(), 0);
    }
}
