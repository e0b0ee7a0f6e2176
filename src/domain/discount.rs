//! Discount codes: a percentage or a fixed amount off an order's subtotal,
//! within a validity window, above a minimum, a limited number of times.
//!
//! Invariant: `used` counts the orders that used the code; it is raised in
//! the checkout's own write, so it never passes `usage_limit`.

use super::fields::{Fields, Presence, boolean, read_object, uint};
use super::{FieldErrors, Price, Timestamp};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    /// Whole percent off, 1–100.
    Percent(u32),
    /// Cents off (at most the subtotal).
    Fixed(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCode {
    /// Upper case; codes are matched case-insensitively.
    pub code: String,
    pub kind: DiscountKind,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    /// Smallest subtotal (cents) the code applies to.
    pub min_order_cents: u64,
    /// Orders that may use it in all; `None`: unlimited.
    pub usage_limit: Option<u32>,
    /// Orders one customer (account, or a guest's email) may use it for.
    pub per_customer_limit: Option<u32>,
    pub used: u32,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Why a code does not apply (checkout answers `discount_code_invalid`
/// with this reason: 404 for an unknown code, 409 for the others).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeRejection {
    #[error("no such discount code")]
    Unknown,
    #[error("this discount code is not active")]
    Inactive,
    #[error("this discount code is not valid yet")]
    NotYet,
    #[error("this discount code has expired")]
    Expired,
    #[error("this discount code needs an order of at least {0}")]
    Minimum(String),
    #[error("this discount code has been used up")]
    UsedUp,
    #[error("you have already used this discount code")]
    UsedByCustomer,
}

impl DiscountCode {
    /// Cents off `subtotal` at `now` for a customer who used it
    /// `customer_uses` times before.
    pub fn amount_off(
        &self,
        subtotal: u64,
        now: Timestamp,
        customer_uses: u32,
    ) -> Result<u64, CodeRejection> {
        if !self.active {
            return Err(CodeRejection::Inactive);
        }
        if self.starts_at.is_some_and(|s| now < s) {
            return Err(CodeRejection::NotYet);
        }
        if self.ends_at.is_some_and(|e| now >= e) {
            return Err(CodeRejection::Expired);
        }
        if subtotal < self.min_order_cents {
            let min = Price::from_cents(self.min_order_cents).map_or(0.0, |p| p.as_decimal());
            return Err(CodeRejection::Minimum(format!("{min:.2}")));
        }
        if self.usage_limit.is_some_and(|l| self.used >= l) {
            return Err(CodeRejection::UsedUp);
        }
        if self.per_customer_limit.is_some_and(|l| customer_uses >= l) {
            return Err(CodeRejection::UsedByCustomer);
        }
        Ok(match self.kind {
            DiscountKind::Percent(p) => (subtotal * p as u64 + 50) / 100,
            DiscountKind::Fixed(c) => c.min(subtotal),
        })
    }
}

/// Normalizes a code as typed: trimmed, upper case, 3–32 of `A-Z 0-9 - _`.
pub(crate) fn normalize_code(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_uppercase();
    if !(3..=32).contains(&s.len())
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("must be 3 to 32 letters, digits, '-' or '_'".into());
    }
    Ok(s)
}

pub(crate) fn code_from_json(v: &Value) -> Result<String, String> {
    normalize_code(v.as_str().ok_or("must be a string")?)
}

fn kind_name(v: &Value) -> Result<bool, String> {
    match v.as_str() {
        Some("percent") => Ok(true),
        Some("fixed") => Ok(false),
        _ => Err("must be 'percent' or 'fixed'".into()),
    }
}

fn limit(v: &Value) -> Result<u32, String> {
    match uint(v, 1_000_000_000)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n as u32),
    }
}

/// The fields of a discount-code write; `None`: not sent.
#[derive(Debug, Clone, Default)]
pub struct DiscountDraft {
    pub code: Option<String>,
    pub kind: Option<DiscountKind>,
    pub starts_at: Option<Option<Timestamp>>,
    pub ends_at: Option<Option<Timestamp>>,
    pub min_order_cents: Option<u64>,
    pub usage_limit: Option<Option<u32>>,
    pub per_customer_limit: Option<Option<u32>>,
    pub active: Option<bool>,
}

impl DiscountDraft {
    /// A new code (`create`: `code`, `type` and `value` required) or a patch
    /// (`code` cannot change; `type` and `value` come together).
    pub fn parse(map: &Map<String, Value>, create: bool) -> Result<DiscountDraft, FieldErrors> {
        read_object(map, |f| {
            let presence = if create {
                Presence::Required
            } else {
                Presence::Optional
            };
            let code = if create {
                f.get("code", presence, code_from_json)
            } else {
                f.forbid("code", "cannot be changed; create another code");
                None
            };
            let kind = read_kind(f, presence);
            let d = DiscountDraft {
                code,
                kind,
                starts_at: f.nullable("startsAt", Timestamp::from_json),
                ends_at: f.nullable("endsAt", Timestamp::from_json),
                min_order_cents: f
                    .get("minOrder", Presence::Optional, Price::from_json)
                    .map(Price::cents),
                usage_limit: f.nullable("usageLimit", limit),
                per_customer_limit: f.nullable("perCustomerLimit", limit),
                active: f.get("active", Presence::Optional, boolean),
            };
            if let (Some(Some(s)), Some(Some(e))) = (d.starts_at, d.ends_at)
                && e <= s
            {
                f.errors.push("endsAt", "must be after startsAt");
            }
            if create && (d.code.is_none() || d.kind.is_none()) {
                return None;
            }
            Some(d)
        })
    }

    /// The new code, from a checked create draft.
    pub fn create(self, now: Timestamp) -> Option<DiscountCode> {
        Some(DiscountCode {
            code: self.code?,
            kind: self.kind?,
            starts_at: self.starts_at.flatten(),
            ends_at: self.ends_at.flatten(),
            min_order_cents: self.min_order_cents.unwrap_or(0),
            usage_limit: self.usage_limit.flatten(),
            per_customer_limit: self.per_customer_limit.flatten(),
            used: 0,
            active: self.active.unwrap_or(true),
            created_at: now,
            updated_at: now,
        })
    }

    /// `c` with the sent fields replaced; an `Err` when the result's window
    /// is empty.
    pub(crate) fn apply(
        &self,
        c: &DiscountCode,
        now: Timestamp,
    ) -> Result<DiscountCode, FieldErrors> {
        let mut n = c.clone();
        if let Some(k) = self.kind {
            n.kind = k;
        }
        if let Some(s) = self.starts_at {
            n.starts_at = s;
        }
        if let Some(e) = self.ends_at {
            n.ends_at = e;
        }
        if let Some(m) = self.min_order_cents {
            n.min_order_cents = m;
        }
        if let Some(l) = self.usage_limit {
            n.usage_limit = l;
        }
        if let Some(l) = self.per_customer_limit {
            n.per_customer_limit = l;
        }
        if let Some(a) = self.active {
            n.active = a;
        }
        n.updated_at = now;
        if let (Some(s), Some(e)) = (n.starts_at, n.ends_at)
            && e <= s
        {
            let mut errors = FieldErrors::new();
            errors.push("endsAt", "must be after startsAt");
            return Err(errors);
        }
        Ok(n)
    }
}

/// `type` and `value` together: a percent 1–100, or an amount.
fn read_kind(f: &mut Fields<'_>, presence: Presence) -> Option<DiscountKind> {
    let percent = f.get("type", presence, kind_name);
    let value = f.get("value", presence, |v| {
        v.as_f64()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map(|_| v.clone())
            .ok_or_else(|| "must be a number above 0".to_string())
    });
    match (percent, value) {
        (Some(true), Some(v)) => match uint(&v, 100) {
            Ok(p) => Some(DiscountKind::Percent(p as u32)),
            Err(_) => {
                f.errors
                    .push("value", "a percent must be a whole number from 1 to 100");
                None
            }
        },
        (Some(false), Some(v)) => match Price::from_json(&v) {
            Ok(p) => Some(DiscountKind::Fixed(p.cents())),
            Err(e) => {
                f.errors.push("value", e);
                None
            }
        },
        (None, Some(_)) if presence == Presence::Optional => {
            f.errors.push("type", "is required with value");
            None
        }
        (Some(_), None) if presence == Presence::Optional => {
            f.errors.push("value", "is required with type");
            None
        }
        _ => None,
    }
}

/// Whose uses of a code a per-customer limit counts: one key per mailbox,
/// whether the customer checks out signed in or as a guest. The address is
/// lowercased and a `+tag` is dropped from its local part (`Ann+2@Mail.com`
/// and `ann@mail.com` are one customer), so a limit cannot be had again by
/// retyping the address.
pub(crate) fn customer_identity(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@').unwrap_or((&email, ""));
    let local = local.split('+').next().unwrap_or(local);
    format!("email:{local}@{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(v: Value) -> DiscountCode {
        DiscountDraft::parse(v.as_object().unwrap(), true)
            .unwrap()
            .create(Timestamp::from_millis(1_000).unwrap())
            .unwrap()
    }

    #[test]
    fn codes_apply_within_their_window_minimum_and_limits() {
        let now = Timestamp::from_millis(5_000).unwrap();
        let c = code(json!({"code": "save10", "type": "percent", "value": 10,
                            "minOrder": 20, "usageLimit": 2, "perCustomerLimit": 1}));
        assert_eq!(c.code, "SAVE10");
        assert_eq!(c.amount_off(2005, now, 0), Ok(201));
        assert!(matches!(
            c.amount_off(1999, now, 0),
            Err(CodeRejection::Minimum(_))
        ));
        assert_eq!(
            c.amount_off(5000, now, 1),
            Err(CodeRejection::UsedByCustomer)
        );
        let used = DiscountCode {
            used: 2,
            ..c.clone()
        };
        assert_eq!(used.amount_off(5000, now, 0), Err(CodeRejection::UsedUp));
        let fixed = code(json!({"code": "FIVE", "type": "fixed", "value": 5.5,
                                "endsAt": "1970-01-01T00:00:04Z"}));
        assert_eq!(fixed.amount_off(300, now, 0), Err(CodeRejection::Expired));
        let early = Timestamp::from_millis(2_000).unwrap();
        assert_eq!(fixed.amount_off(300, early, 0), Ok(300));
        assert_eq!(fixed.amount_off(3000, early, 0), Ok(550));
    }

    #[test]
    fn bad_drafts_report_every_field() {
        let v = json!({"code": "a", "type": "percent", "value": 150, "usageLimit": 0});
        let e = DiscountDraft::parse(v.as_object().unwrap(), true).unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "value", "usageLimit"]);
    }

    #[test]
    fn one_customer_however_the_address_is_typed() {
        let one = customer_identity("ann@mail.example");
        for same in [
            "Ann@Mail.Example",
            "ann+2@mail.example",
            " ANN+promo+x@mail.example ",
        ] {
            assert_eq!(customer_identity(same), one, "{same}");
        }
        assert_ne!(customer_identity("anne@mail.example"), one);
        assert_ne!(customer_identity("ann@other.example"), one);
    }
}
