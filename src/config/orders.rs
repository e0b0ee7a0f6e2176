//! The orders section: shipping and tax, the payment provider's webhook
//! secret, the key that signs guests' order links, and how long unpaid
//! orders hold their stock.
//!
//! # The holds' defaults
//! - Card, 30 minutes: a card is paid inside the provider's checkout
//!   session, which the providers expire after about half an hour at the
//!   earliest (Stripe Checkout: 30 minutes to 24 hours, Adyen's payment
//!   links and sessions similar); an order still unpaid then was abandoned.
//! - Bank transfer, 7 days: a SEPA credit transfer arrives in one business
//!   day (two on paper), so a week covers a weekend, a bank holiday and a
//!   customer who pays a few days later, without holding stock for weeks.
//! - Cash on delivery is paid at the door: never held.

use super::data_dir::DataDir;
use super::layer::{Problems, Text, raw_section};
use super::replication::duration;
use super::secret::Secret;
use crate::domain::Price;
use crate::domain::order::{Charges, Holds};
use std::time::Duration;

raw_section! {
    #[command(next_help_heading = "Selling")]
    /// The selling settings as given.
    pub(crate) struct Raw {
        /// Flat shipping charged per order (default 4.99).
        #[arg(long, env = "SHOPD_SHIPPING")]
        pub shipping: Option<Text>,
        /// Tax rate in percent on the discounted subtotal, e.g. 19 or 7.5
        /// (default 0).
        #[arg(long, env = "SHOPD_TAX_RATE")]
        pub tax_rate: Option<Text>,
        /// The payment provider's webhook secret (HMAC-SHA256 signatures of
        /// POST /api/v1/payments/webhook). Without it card payments cannot be
        /// confirmed.
        #[arg(long, env = "SHOPD_PAYMENT_WEBHOOK_SECRET", hide_env_values = true)]
        pub payment_webhook_secret: Option<Secret>,
        /// How long an unpaid card order holds its stock before it is
        /// cancelled (default 30m; 1s to 30d).
        #[arg(long, env = "SHOPD_HOLD_CARD")]
        pub hold_card: Option<String>,
        /// How long an unpaid bank-transfer order holds its stock before it
        /// is cancelled (default 7d; 1s to 30d).
        #[arg(long, env = "SHOPD_HOLD_BANK_TRANSFER")]
        pub hold_bank_transfer: Option<String>,
    }
}

/// The selling service's settings.
#[derive(Debug, Clone)]
pub struct OrdersSettings {
    /// Flat shipping per order and the tax rate (on the discounted
    /// subtotal).
    pub charges: Charges,
    /// The payment provider's webhook secret; `None`: card payments cannot
    /// be confirmed (the webhook answers 503).
    pub webhook_secret: Option<Secret>,
    /// Signs guests' order links (created when missing).
    pub link_key_file: std::path::PathBuf,
    /// Where mailed links point.
    pub public_url: String,
    /// How long unpaid orders hold their stock, by payment method.
    pub holds: Holds,
}

pub(super) fn resolve(
    raw: Raw,
    data: &DataDir,
    public_url: &str,
    problems: &mut Problems,
) -> OrdersSettings {
    OrdersSettings {
        charges: charges(raw.shipping, raw.tax_rate, problems),
        webhook_secret: raw
            .payment_webhook_secret
            .filter(|s| !s.expose().is_empty()),
        link_key_file: data.links_key(),
        public_url: public_url.to_string(),
        holds: Holds {
            card_ms: hold("hold-card", raw.hold_card, Holds::DEFAULT.card_ms, problems),
            bank_transfer_ms: hold(
                "hold-bank-transfer",
                raw.hold_bank_transfer,
                Holds::DEFAULT.bank_transfer_ms,
                problems,
            ),
        },
    }
}

/// A hold given as a duration from 1 second to 30 days, in milliseconds.
fn hold(name: &str, given: Option<String>, default_ms: i64, problems: &mut Problems) -> i64 {
    let default = Duration::from_millis(default_ms as u64);
    let d = duration(name, given, default, problems);
    if !(Duration::from_secs(1)..=Duration::from_secs(30 * 86_400)).contains(&d) {
        problems.push(format!("{name}: must be from 1s to 30d"));
        return default_ms;
    }
    d.as_millis() as i64
}

/// Shipping (default 4.99) and tax rate (default 0 %).
fn charges(shipping: Option<Text>, tax_rate: Option<Text>, problems: &mut Problems) -> Charges {
    let shipping = match shipping {
        Some(Text(s)) => s.trim().parse::<f64>().map_err(|_| ()),
        None => Ok(4.99),
    };
    let shipping_cents = match shipping.map(Price::from_decimal) {
        Ok(Ok(p)) => p.cents(),
        _ => {
            problems.push("shipping: must be an amount such as 4.99");
            0
        }
    };
    let rate = match tax_rate {
        Some(Text(s)) => s.trim().trim_end_matches('%').parse::<f64>().ok(),
        None => Some(0.0),
    };
    let tax_basis_points = match rate {
        Some(r)
            if r.is_finite()
                && (0.0..=100.0).contains(&r)
                && ((r * 100.0).round() - r * 100.0).abs() < 1e-6 =>
        {
            (r * 100.0).round() as u32
        }
        _ => {
            problems.push("tax-rate: must be a percent from 0 to 100 with at most 2 decimals, such as 19 or 7.5");
            0
        }
    };
    Charges {
        shipping_cents,
        tax_basis_points,
    }
}
