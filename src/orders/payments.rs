//! Signed payment webhooks, the way hosted payment providers sign them.
//!
//! The provider sends `X-Payment-Signature: t=<unix seconds>,v1=<hex>`,
//! where `v1` is HMAC-SHA256 over `"{t}.{raw body}"` with the shared
//! secret (`--payment-webhook-secret`). A signature is accepted when one
//! `v1` matches (compared in constant time) and `t` is within
//! [`TOLERANCE_SECS`] of now; replays inside that window are caught by the
//! event id (`payment_events`, in the same write as its effect).
//!
//! The event body: `{"id": "evt_…", "type": "payment.succeeded",
//! "data": {"orderId": "ord_…", "amount": 12.34}}`. A success must name the
//! amount, equal to the order's total, and an order paid by card (the only
//! method a provider pays); other types are acknowledged and ignored.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub(crate) const SIGNATURE_HEADER: &str = "x-payment-signature";
pub(crate) const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Payment-Signature header is missing or malformed (t=<unix seconds>,v1=<hex>)")]
    Malformed,
    #[error("the signature's timestamp is more than 5 minutes from now")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

impl SignatureError {
    pub(crate) fn code(self) -> &'static str {
        match self {
            SignatureError::Malformed => "invalid_signature",
            SignatureError::Stale => "signature_expired",
            SignatureError::Mismatch => "invalid_signature",
        }
    }
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The header value a provider sends for `body` at `t` (tests, tools).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Checks `header` for `body` at `now` (unix seconds).
pub(crate) fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => tags.push(unhex(v).ok_or(SignatureError::Malformed)?),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`: a `t` near i64::MIN or MAX must not overflow (found by
    // the fuzz target, `api::fuzz`).
    if now.abs_diff(t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    // `verify_slice` compares in constant time.
    if tags
        .iter()
        .any(|tag| mac(secret, t, body).verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A verified event's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaymentEvent {
    pub id: String,
    pub kind: String,
    pub order_id: Option<String>,
    /// Cents, when the event carries an amount.
    pub amount_cents: Option<u64>,
}

/// Reads an event body (after its signature was verified).
pub(crate) fn parse_event(body: &[u8]) -> Result<PaymentEvent, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or("id: a string of 1 to 255 characters is required")?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or("type: a string is required")?;
    let data = v.get("data");
    let order_id = data
        .and_then(|d| d.get("orderId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let amount_cents = match data.and_then(|d| d.get("amount")) {
        None | Some(Value::Null) => None,
        Some(a) => Some(
            crate::domain::Price::from_json(a)
                .map_err(|e| format!("data.amount {e}"))?
                .cents(),
        ),
    };
    Ok(PaymentEvent {
        id: id.to_string(),
        kind: kind.to_string(),
        order_id,
        amount_cents,
    })
}

use super::status::pay;
use super::{Orders, OrdersError, money, now};
use crate::domain::order::PaymentMethod;

impl Orders {
    /// A payment provider's webhook: verifies the signature, then applies
    /// the event once. `Ok(false)`: a replay, nothing changed.
    pub(crate) async fn payment_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<bool, OrdersError> {
        let secret = self
            .inner
            .settings
            .webhook_secret
            .as_ref()
            .ok_or(OrdersError::PaymentsOff)?;
        verify(
            secret.expose().as_bytes(),
            signature.unwrap_or(""),
            body,
            now().millis() / 1000,
        )
        .map_err(OrdersError::Signature)?;
        let event = parse_event(body).map_err(OrdersError::BadEvent)?;
        let jobs = self.inner.jobs.clone();
        self.store()
            .write(move |tx| {
                if !tx.orders().record_payment_event(&event.id, now())? {
                    return Ok(false);
                }
                if event.kind != "payment.succeeded" {
                    return Ok(true);
                }
                let oid = event
                    .order_id
                    .clone()
                    .ok_or_else(|| OrdersError::BadEvent("data.orderId is required".into()))?;
                let o = tx
                    .orders()
                    .order(&oid)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no order {oid}")))?;
                // The provider pays card orders only; a bank transfer or
                // cash on delivery is confirmed by staff.
                if o.payment_method != PaymentMethod::Card {
                    return Err(OrdersError::NotPaidByProvider(o.payment_method.as_str()));
                }
                // An event that names no amount proves nothing was paid.
                let paid = event.amount_cents.ok_or_else(|| {
                    OrdersError::BadEvent("data.amount is required for payment.succeeded".into())
                })?;
                if paid != o.totals.total {
                    return Err(OrdersError::AmountMismatch {
                        paid: money(paid),
                        total: money(o.totals.total),
                    });
                }
                pay(tx, &jobs, o, "payment provider".into())?;
                Ok(true)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_stale_forged_and_malformed_signatures() {
        let body = br#"{"id":"evt_1","type":"payment.succeeded"}"#;
        let h = sign(b"whsec", 1_000, body);
        assert_eq!(verify(b"whsec", &h, body, 1_100), Ok(()));
        assert_eq!(
            verify(b"whsec", &h, body, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"other", &h, body, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"whsec", &h, b"{}", 1_000),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                verify(b"whsec", bad, body, 1),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A rotated secret: two v1 values, one matches.
        let two = format!("{h},v1={}", "00".repeat(32));
        assert_eq!(verify(b"whsec", &two, body, 1_000), Ok(()));
    }
}
