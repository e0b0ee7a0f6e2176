//! The orders section: shipping and tax, the payment provider's webhook
//! secret, and the key that signs guests' order links.

use super::data_dir::DataDir;
use super::layer::{Problems, Text, raw_section};
use super::secret::Secret;
use crate::domain::Price;
use crate::domain::order::Charges;

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
}

impl OrdersSettings {}

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
    }
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
