//! The limiters: one GCRA limiter per class, one state per caller, and who
//! the caller is (see the module docs of `middleware::rate_limit`).

use super::failures::Failures;
use crate::api::error::ApiError;
use crate::api::error::RateStatus;
use crate::api::route::RateLimit;
use crate::config::http::TrustedProxies;
use crate::config::rate_limits::Rate;
use crate::config::rate_limits::RateLimitSettings;
use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use actix_web::http::header::HeaderValue;
use governor::Quota;
use governor::RateLimiter;
use governor::clock::Clock;
use governor::clock::DefaultClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::hash::Hash;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::time::Duration;

/// How often keys whose quota is all back are dropped.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The key of a per-caller class: the caller's subject, or its IP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    Subject(String),
    Ip(IpAddr),
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ClassLabels {
    class: &'static str,
}

/// Requests refused, per class (`shopd_rate_limited_total`).
pub(crate) type Refused = Family<ClassLabels, Counter>;

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One class's quota and its per-key state.
struct Class<K: Hash + Eq + Clone> {
    name: &'static str,
    rate: Rate,
    /// `period / N`: how long one request's share takes to come back.
    interval: Duration,
    limiter: Limiter<K>,
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl<K: Hash + Eq + Clone> Class<K> {
    fn new(name: &'static str, rate: Rate) -> Class<K> {
        let interval = rate.period() / rate.count().get();
        // `Rate` keeps periods ≥ 1 s and N ≤ 1,000,000: the interval is at
        // least 1 µs, never zero, which is all `with_period` refuses.
        let quota = Quota::with_period(interval)
            .expect("a rate's interval is not zero")
            .allow_burst(rate.count());
        Class {
            name,
            rate,
            interval,
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
        }
    }

    fn check(&self, key: &K, refused: &Refused) -> Result<RateStatus, ApiError> {
        let limit = self.rate.count().get();
        match self.limiter.check_key(key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity().min(limit);
                Ok(RateStatus {
                    limit,
                    remaining,
                    reset_secs: ceil_secs(self.interval * (limit - remaining)),
                })
            }
            Err(not_until) => {
                refused
                    .get_or_create(&ClassLabels { class: self.name })
                    .inc();
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(ApiError::RateLimited {
                    class: self.name,
                    rate: self.rate,
                    retry_after_secs: ceil_secs(wait).max(1),
                    // The next request's share comes back after `wait`, the
                    // other N - 1 one interval after another.
                    reset_secs: ceil_secs(wait + self.interval * (limit - 1)),
                })
            }
        }
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct FailureLabels {
    kind: &'static str,
}

/// Failed credential checks and sign-ins, per kind
/// (`shopd_auth_failures_total`).
pub(crate) type FailureCounts = Family<FailureLabels, Counter>;

/// Failed sign-ins on one account, from any address, past which every
/// attempt on it waits (a second more per failure, at most
/// [`MAX_SIGN_IN_DELAY`]); counted over [`SIGN_IN_WINDOW`].
const SIGN_IN_SLOWDOWN_AFTER: u32 = 10;
const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_SIGN_IN_DELAY: Duration = Duration::from_secs(5);

/// Every class's limiter, shared by all workers (in [`ApiState`]).
pub(crate) struct RateLimits {
    api: Option<Class<IpAddr>>,
    auth_ip: Option<Class<IpAddr>>,
    /// Registration attempts per email (the mails they send).
    register_email: Option<Class<String>>,
    /// Password-reset requests per email (the mails they send).
    reset_email: Option<Class<String>>,
    write: Option<Class<Caller>>,
    checkout: Option<Class<Caller>>,
    /// Failed credential checks per client address, and the quota's rate.
    credentials: Option<(Failures<IpAddr>, Rate)>,
    /// Failed sign-ins per (email, address): a guesser is blocked from the
    /// address it guesses from only.
    sign_in_pairs: Option<(Failures<(String, IpAddr)>, Rate)>,
    /// Failed sign-ins per email, from anywhere: slow down, never lock.
    sign_in_emails: Option<Failures<String>>,
    proxies: TrustedProxies,
    refused: Refused,
    failures: FailureCounts,
}

impl RateLimits {
    pub(crate) fn new(settings: &RateLimitSettings, proxies: TrustedProxies) -> RateLimits {
        fn failures<K: Hash + Eq + Clone>(r: Rate) -> Failures<K> {
            Failures::new(r.count().get(), r.period())
        }
        RateLimits {
            api: settings.api.map(|r| Class::new("api", r)),
            auth_ip: settings.auth.map(|r| Class::new("auth", r)),
            register_email: settings.auth.map(|r| Class::new("auth", r)),
            reset_email: settings.auth.map(|r| Class::new("auth", r)),
            write: settings.write.map(|r| Class::new("write", r)),
            checkout: settings.checkout.map(|r| Class::new("checkout", r)),
            credentials: settings.credentials.map(|r| (failures(r), r)),
            sign_in_pairs: settings.auth.map(|r| (failures(r), r)),
            sign_in_emails: settings
                .auth
                .map(|_| Failures::new(u32::MAX, SIGN_IN_WINDOW)),
            proxies,
            refused: Refused::default(),
            failures: FailureCounts::default(),
        }
    }

    /// Counts a request of `class` from the caller of `req` (`subject`:
    /// its [`Principal::rate_subject`]). `Ok(None)`: the class is not
    /// limited; `Err`: 429.
    pub(crate) fn check(
        &self,
        class: RateLimit,
        req: &HttpRequest,
        subject: Option<String>,
    ) -> Result<Option<RateStatus>, ApiError> {
        let refused = &self.refused;
        let ip = || bucket(self.client_ip(req));
        let caller =
            |subject: Option<String>| subject.map_or_else(|| Caller::Ip(ip()), Caller::Subject);
        match class {
            RateLimit::None => Ok(None),
            RateLimit::Api => self
                .api
                .as_ref()
                .map(|c| c.check(&ip(), refused))
                .transpose(),
            RateLimit::Auth => self
                .auth_ip
                .as_ref()
                .map(|c| c.check(&ip(), refused))
                .transpose(),
            RateLimit::Write => self
                .write
                .as_ref()
                .map(|c| c.check(&caller(subject), refused))
                .transpose(),
            RateLimit::Checkout => self
                .checkout
                .as_ref()
                .map(|c| c.check(&caller(subject), refused))
                .transpose(),
        }
    }

    /// The `auth` quota of registrations per email address, on top of the
    /// per-IP one the layer checks (each attempt may mail the address).
    /// The address is trimmed and lowercased, so `Ann@X.com ` and
    /// `ann@x.com` share a quota. `Ok(None)` when `auth` is off.
    pub(crate) fn check_register_email(&self, email: &str) -> Result<Option<RateStatus>, ApiError> {
        let Some(class) = &self.register_email else {
            return Ok(None);
        };
        class.check(&email_key(email), &self.refused).map(Some)
    }

    /// The same for password-reset requests (a quota of its own: failed
    /// sign-ins never spend it, so they cannot stop a reset).
    pub(crate) fn check_reset_email(&self, email: &str) -> Result<Option<RateStatus>, ApiError> {
        let Some(class) = &self.reset_email else {
            return Ok(None);
        };
        class.check(&email_key(email), &self.refused).map(Some)
    }

    /// Before a sign-in of `email` from `req`'s client: 429 when this
    /// address used its failures on this account; else how long the
    /// attempt must wait (failures on the account from anywhere slow every
    /// attempt down, the right password included, but never lock it).
    pub(crate) fn sign_in_gate(
        &self,
        req: &HttpRequest,
        email: &str,
    ) -> Result<Duration, ApiError> {
        let email = email_key(email);
        if let Some((pairs, rate)) = &self.sign_in_pairs
            && let Some(wait) = pairs.blocked(&(email.clone(), bucket(self.client_ip(req))))
        {
            return Err(self.refuse("sign-in", *rate, wait));
        }
        let failures = self.sign_in_emails.as_ref().map_or(0, |f| f.count(&email));
        Ok(failures
            .checked_sub(SIGN_IN_SLOWDOWN_AFTER - 1)
            .map_or(Duration::ZERO, |n| {
                (Duration::from_secs(1) * n).min(MAX_SIGN_IN_DELAY)
            }))
    }

    /// A sign-in of `email` from `req`'s client failed.
    pub(crate) fn sign_in_failed(&self, req: &HttpRequest, email: &str) {
        let email = email_key(email);
        self.count_failure("sign_in");
        if let Some((pairs, _)) = &self.sign_in_pairs {
            pairs.failed((email.clone(), bucket(self.client_ip(req))));
        }
        if let Some(emails) = &self.sign_in_emails {
            emails.failed(email);
        }
    }

    /// A sign-in (or a password reset) of `email` succeeded: its failures
    /// are forgotten, from every address.
    pub(crate) fn sign_in_cleared(&self, email: &str) {
        let email = email_key(email);
        if let Some(emails) = &self.sign_in_emails {
            emails.clear(&email);
        }
        if let Some((pairs, _)) = &self.sign_in_pairs {
            for key in pairs.keys_where(|(e, _)| *e == email) {
                pairs.clear(&key);
            }
        }
    }

    /// Before checking credentials from `req`'s client: 429 when the
    /// address used its failed credential checks.
    pub(crate) fn credential_gate(&self, req: &HttpRequest) -> Result<(), ApiError> {
        match &self.credentials {
            Some((f, rate)) => match f.blocked(&bucket(self.client_ip(req))) {
                Some(wait) => Err(self.refuse("credentials", *rate, wait)),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Credentials from `req`'s client were wrong (`kind`: what they
    /// were); counts them. `Some(429)` when that was the last one allowed.
    pub(crate) fn credential_failed(&self, req: &HttpRequest, kind: &'static str) {
        self.count_failure(kind);
        if let Some((f, _)) = &self.credentials {
            f.failed(bucket(self.client_ip(req)));
        }
    }

    fn count_failure(&self, kind: &'static str) {
        self.failures.get_or_create(&FailureLabels { kind }).inc();
    }

    /// A 429 of `class` for another `wait`.
    fn refuse(&self, class: &'static str, rate: Rate, wait: Duration) -> ApiError {
        self.refused.get_or_create(&ClassLabels { class }).inc();
        ApiError::RateLimited {
            class,
            rate,
            retry_after_secs: ceil_secs(wait).max(1),
            reset_secs: ceil_secs(wait).max(1),
        }
    }

    /// The failure counters, for `/metrics`.
    pub(crate) fn failure_counts(&self) -> FailureCounts {
        self.failures.clone()
    }

    /// The client's address: the peer, or, from a trusted proxy, what
    /// `X-Forwarded-For` says (see the module documentation).
    pub(crate) fn client_ip(&self, req: &HttpRequest) -> IpAddr {
        client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            &self.proxies,
        )
    }

    /// Whether the client reached us over HTTPS: only a trusted proxy's
    /// `X-Forwarded-Proto` says so (shopd itself speaks plain HTTP); anyone
    /// else's is ignored, so a client cannot make a cookie `Secure`-less
    /// or `Secure` by claiming a scheme.
    pub(crate) fn https(&self, req: &HttpRequest) -> bool {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        self.proxies.contains(peer)
            && req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }

    /// Drops every key whose quota is all back, and returns the memory.
    pub(crate) fn sweep(&self) {
        fn each<K: Hash + Eq + Clone>(c: &Option<Class<K>>) {
            if let Some(c) = c {
                c.sweep();
            }
        }
        each(&self.api);
        each(&self.auth_ip);
        each(&self.register_email);
        each(&self.reset_email);
        each(&self.write);
        each(&self.checkout);
        if let Some((f, _)) = &self.credentials {
            f.sweep();
        }
        if let Some((f, _)) = &self.sign_in_pairs {
            f.sweep();
        }
        if let Some(f) = &self.sign_in_emails {
            f.sweep();
        }
    }

    /// Keys held over all classes.
    #[cfg(test)]
    pub(crate) fn tracked_keys(&self) -> usize {
        fn len<K: Hash + Eq + Clone>(c: &Option<Class<K>>) -> usize {
            c.as_ref().map_or(0, |c| c.limiter.len())
        }
        len(&self.api)
            + len(&self.auth_ip)
            + len(&self.register_email)
            + len(&self.reset_email)
            + len(&self.write)
            + len(&self.checkout)
    }

    /// The refusal counters, for `/metrics`.
    pub(crate) fn refused(&self) -> Refused {
        self.refused.clone()
    }
}

/// The key of an email address in the per-email quotas.
fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The client's address given the TCP peer and the request headers: the
/// peer unless it is a trusted proxy; then, walking `X-Forwarded-For` from
/// the right (the entry the nearest proxy appended), the first entry that
/// is not a trusted proxy. An entry that is not an address stops the walk
/// at the last address believed; when every entry is a proxy, the leftmost.
pub(crate) fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ip| ip.to_canonical());
    if !trusted.contains(peer) {
        return peer;
    }
    let values: Vec<&HeaderValue> = headers.get_all("x-forwarded-for").collect();
    let mut client = peer;
    for value in values.into_iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for entry in text.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
            match hop(entry) {
                Some(ip) if trusted.contains(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, or either with a
/// port (`1.2.3.4:5678`, `[2001:db8::1]:80`), as some proxies write them.
fn hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The key of a client address: IPv4 as it is, IPv6 by its /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The class name as the error and the metrics say it.
pub(crate) fn class_name(class: RateLimit) -> &'static str {
    match class {
        RateLimit::None => "none",
        RateLimit::Api => "api",
        RateLimit::Auth => "auth",
        RateLimit::Write => "write",
        RateLimit::Checkout => "checkout",
    }
}

#[cfg(test)]
mod tests;
