use super::*;
use crate::accounts::Principal;
use crate::api::error::RateStatus;
use crate::config::http::TrustedProxies;
use crate::config::rate_limits::{Rate, RateLimitSettings};
use actix_web::HttpRequest;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn rate(s: &str) -> Option<Rate> {
    Some(s.parse().unwrap())
}

fn limits(settings: RateLimitSettings) -> RateLimits {
    RateLimits::new(&settings, TrustedProxies::default())
}

fn from(ip: &str) -> HttpRequest {
    TestRequest::default()
        .peer_addr(format!("{ip}:40000").parse().unwrap())
        .to_http_request()
}

fn v6_from(ip: &str) -> HttpRequest {
    TestRequest::default()
        .peer_addr(format!("[{ip}]:40000").parse().unwrap())
        .to_http_request()
}

fn xff(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_str(value).unwrap(),
    );
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_quota_counts_down_then_refuses_with_the_wait() {
    let l = limits(RateLimitSettings {
        api: rate("3/min"),
        ..RateLimitSettings::off()
    });
    let req = from("10.0.0.1");
    let seen: Vec<RateStatus> = (0..3)
        .map(|_| l.check(RateLimit::Api, &req, None).unwrap().unwrap())
        .collect();
    assert_eq!(
        seen.iter().map(|s| s.remaining).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    assert!(seen.iter().all(|s| s.limit == 3));
    // One request's share (20 s) per request spent.
    assert_eq!(
        seen.iter().map(|s| s.reset_secs).collect::<Vec<_>>(),
        [20, 40, 60]
    );
    match l.check(RateLimit::Api, &req, None) {
        Err(ApiError::RateLimited {
            class,
            retry_after_secs,
            reset_secs,
            ..
        }) => {
            assert_eq!(class, "api");
            assert!((19..=20).contains(&retry_after_secs), "{retry_after_secs}");
            assert!((59..=60).contains(&reset_secs), "{reset_secs}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    assert!(
        l.check(RateLimit::Api, &from("10.0.0.2"), None).is_ok(),
        "another client has its own quota"
    );
    let refused = l
        .refused()
        .get_or_create(&ClassLabels { class: "api" })
        .get();
    assert_eq!(refused, 1);
}

#[test]
fn classes_that_are_off_or_none_are_not_counted() {
    let l = limits(RateLimitSettings {
        write: rate("1/min"),
        ..RateLimitSettings::off()
    });
    let req = from("10.0.0.1");
    for _ in 0..5 {
        assert_eq!(l.check(RateLimit::Api, &req, None).unwrap(), None);
        assert_eq!(l.check(RateLimit::None, &req, None).unwrap(), None);
        assert_eq!(l.check(RateLimit::Auth, &req, None).unwrap(), None);
        assert_eq!(l.check_reset_email("a@b.c").unwrap(), None);
    }
    assert_eq!(l.tracked_keys(), 0);
}

#[test]
fn auth_is_limited_per_ip_and_per_normalised_email() {
    let l = limits(RateLimitSettings {
        auth: rate("2/5min"),
        ..RateLimitSettings::off()
    });
    // Per email: case and surrounding spaces do not make a new quota.
    assert_eq!(
        l.check_reset_email("Ann@Example.com")
            .unwrap()
            .unwrap()
            .remaining,
        1
    );
    assert_eq!(
        l.check_reset_email(" ann@example.COM ")
            .unwrap()
            .unwrap()
            .remaining,
        0
    );
    let Err(ApiError::RateLimited {
        class,
        retry_after_secs,
        ..
    }) = l.check_reset_email("ann@example.com")
    else {
        panic!("the third attempt for one address is refused");
    };
    assert_eq!(class, "auth");
    assert!(
        (149..=150).contains(&retry_after_secs),
        "{retry_after_secs}"
    );
    assert!(l.check_reset_email("bob@example.com").is_ok());
    // Per IP, independently of the emails.
    let req = from("10.0.0.9");
    assert!(l.check(RateLimit::Auth, &req, None).is_ok());
    assert!(l.check(RateLimit::Auth, &req, None).is_ok());
    assert!(matches!(
        l.check(RateLimit::Auth, &req, None),
        Err(ApiError::RateLimited { .. })
    ));
    assert!(l.check(RateLimit::Auth, &from("10.0.0.10"), None).is_ok());
}

#[test]
fn writes_and_checkouts_follow_the_caller_across_addresses_else_the_ip() {
    let l = limits(RateLimitSettings {
        write: rate("2/min"),
        checkout: rate("1/10min"),
        ..RateLimitSettings::off()
    });
    let admin = || Principal::AdminToken.rate_subject();
    assert_eq!(admin().as_deref(), Some("admin-token"));
    assert_eq!(Principal::Anonymous.rate_subject(), None);
    // One subject from two addresses: one quota.
    assert!(
        l.check(RateLimit::Write, &from("10.0.0.1"), admin())
            .is_ok()
    );
    assert!(
        l.check(RateLimit::Write, &from("10.0.0.2"), admin())
            .is_ok()
    );
    assert!(
        l.check(RateLimit::Write, &from("10.0.0.3"), admin())
            .is_err()
    );
    // Without a subject: the address, apart from the subject's quota.
    assert!(l.check(RateLimit::Write, &from("10.0.0.1"), None).is_ok());
    assert!(l.check(RateLimit::Write, &from("10.0.0.1"), None).is_ok());
    assert!(l.check(RateLimit::Write, &from("10.0.0.1"), None).is_err());
    // Checkout per account, its own class.
    let account = || Some("account:a1".to_string());
    assert!(
        l.check(RateLimit::Checkout, &from("10.0.0.1"), account())
            .is_ok()
    );
    let Err(ApiError::RateLimited { class, .. }) =
        l.check(RateLimit::Checkout, &from("10.0.0.5"), account())
    else {
        panic!("a second checkout of one account within 10 min is refused");
    };
    assert_eq!(class, "checkout");
    assert!(
        l.check(
            RateLimit::Checkout,
            &from("10.0.0.1"),
            Some("account:a2".into())
        )
        .is_ok()
    );
}

#[test]
fn ipv6_clients_share_a_quota_per_64() {
    let l = limits(RateLimitSettings {
        api: rate("1/min"),
        ..RateLimitSettings::off()
    });
    assert!(
        l.check(RateLimit::Api, &v6_from("2001:db8:1:2::1"), None)
            .is_ok()
    );
    assert!(
        l.check(RateLimit::Api, &v6_from("2001:db8:1:2::ffff"), None)
            .is_err()
    );
    assert!(
        l.check(RateLimit::Api, &v6_from("2001:db8:1:3::1"), None)
            .is_ok()
    );
}

#[test]
fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusted = TrustedProxies::parse_list("10.0.0.0/8").unwrap();
    let none = TrustedProxies::default();
    let h = xff("203.0.113.9");
    // An untrusted peer: its own address, whatever it claims.
    assert_eq!(
        client_ip(Some(ip("198.51.100.1")), &h, &trusted),
        ip("198.51.100.1")
    );
    assert_eq!(client_ip(Some(ip("10.0.0.1")), &h, &none), ip("10.0.0.1"));
    // A trusted proxy: the entry it appended.
    assert_eq!(
        client_ip(Some(ip("10.0.0.1")), &h, &trusted),
        ip("203.0.113.9")
    );
    // A client's own spoofed entries stay left of the real one.
    let spoofed = xff("1.1.1.1, 2.2.2.2, 203.0.113.9, 10.1.1.1");
    assert_eq!(
        client_ip(Some(ip("10.0.0.1")), &spoofed, &trusted),
        ip("203.0.113.9")
    );
    // Several headers read as one list, in order.
    let mut two = xff("1.1.1.1");
    two.append(
        HeaderName::from_static("x-forwarded-for"),
        HeaderValue::from_static("203.0.113.7, 10.2.2.2"),
    );
    assert_eq!(
        client_ip(Some(ip("10.0.0.1")), &two, &trusted),
        ip("203.0.113.7")
    );
    // Ports and mapped addresses.
    assert_eq!(
        client_ip(
            Some(ip("::ffff:10.0.0.1")),
            &xff("203.0.113.9:5555"),
            &trusted
        ),
        ip("203.0.113.9")
    );
    // Garbage stops the walk at the last address believed.
    assert_eq!(
        client_ip(
            Some(ip("10.0.0.1")),
            &xff("203.0.113.9, nonsense"),
            &trusted
        ),
        ip("10.0.0.1")
    );
    // Only proxies: the leftmost; no header: the peer.
    assert_eq!(
        client_ip(Some(ip("10.0.0.1")), &xff("10.3.3.3, 10.4.4.4"), &trusted),
        ip("10.3.3.3")
    );
    assert_eq!(
        client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted),
        ip("10.0.0.1")
    );
}

#[test]
fn a_sweep_drops_keys_whose_quota_is_back_and_keeps_the_others() {
    let l = limits(RateLimitSettings {
        // 1 ms per request: a key is fresh again 1 ms after its request.
        api: rate("1000/s"),
        write: rate("1/min"),
        ..RateLimitSettings::off()
    });
    for i in 0..500u32 {
        let req = from(&Ipv4Addr::from(0x0a00_0000 + i).to_string());
        l.check(RateLimit::Api, &req, None).unwrap();
    }
    for i in 0..3u32 {
        let req = from(&Ipv4Addr::from(0x0b00_0000 + i).to_string());
        l.check(RateLimit::Write, &req, None).unwrap();
    }
    assert_eq!(l.tracked_keys(), 503);
    std::thread::sleep(Duration::from_millis(20));
    l.sweep();
    assert_eq!(
        l.tracked_keys(),
        3,
        "the write keys are a minute from fresh"
    );
}
