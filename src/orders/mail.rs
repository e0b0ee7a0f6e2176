//! The mail the selling service sends (order confirmation, shipped,
//! payment received) and the signed links in it that let a guest see
//! their order.

use super::money;
use crate::domain::Id;
use crate::domain::order::Order;
use crate::jobs::mail::EmailJob;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

pub(super) fn mail_to(o: &Order, template: &str, extra: Value) -> EmailJob {
    let mut vars = Map::new();
    vars.insert("name".into(), o.address.name.clone().into());
    vars.insert("order_id".into(), format!("#{}", o.number).into());
    if let Value::Object(m) = extra {
        vars.extend(m);
    }
    EmailJob {
        template: template.into(),
        to: o.email.as_str().into(),
        vars,
        secret: Map::new(),
        sealed: None,
    }
}

pub(super) fn confirmation_mail(o: &Order, link: Option<String>) -> EmailJob {
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| json!({"quantity": l.quantity, "title": l.title, "total": money(l.total_cents())}))
        .collect();
    let mut m = mail_to(
        o,
        "order_confirmation",
        json!({"lines": lines, "total": money(o.totals.total)}),
    );
    if let Some(link) = link {
        m.secret.insert("order_url".into(), link.into());
    }
    m
}

pub(super) fn link_token(key: &[u8; 32], order: &Id) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(b"order:");
    m.update(order.as_str().as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn order_link(key: &[u8; 32], public_url: &str, order: &Id) -> String {
    format!(
        "{}/api/v1/orders/{order}?token={}",
        public_url.trim_end_matches('/'),
        link_token(key, order)
    )
}

pub(super) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
