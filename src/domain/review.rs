//! Product reviews: a rating from 1 to 5 and a text, by a user.

use super::fields::{Checked, Fields, Presence, free_text, uint};
use super::{Id, InputMode, Timestamp, limits};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub id: Id,
    pub product_id: Id,
    pub user_id: Id,
    pub rating: Rating,
    pub text: String,
    pub created_at: Timestamp,
}

/// A star rating. Invariant: `1..=5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    pub fn new(n: u64) -> Result<Rating, String> {
        if (1..=5).contains(&n) {
            Ok(Rating(n as u8))
        } else {
            Err("must be a whole number from 1 to 5".into())
        }
    }

    pub(crate) fn from_json(v: &Value) -> Result<Rating, String> {
        Rating::new(uint(v, 5).map_err(|_| "must be a whole number from 1 to 5")?)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// A review write. `product_id` comes from the URL on the API and from the
/// record on import.
#[derive(Debug, Clone)]
pub struct ReviewDraft {
    pub id: Option<Id>,
    pub product_id: Option<Id>,
    pub user_id: Option<Id>,
    pub rating: Option<Rating>,
    pub text: Option<String>,
    pub created_at: Option<Timestamp>,
}

impl ReviewDraft {
    pub fn parse(map: &Map<String, Value>, mode: InputMode) -> Checked<ReviewDraft> {
        let mut f = Fields::new(map);
        let (id, stamps) = mode.read_identity(&mut f, &["createdAt"]);
        let product_id = if mode == InputMode::Import {
            f.get("productId", Presence::Required, Id::from_json)
        } else {
            f.forbid("productId", "is taken from the URL");
            None
        };
        let draft = ReviewDraft {
            id,
            product_id,
            user_id: f.get("userId", Presence::Required, Id::from_json),
            rating: f.get("rating", Presence::Required, Rating::from_json),
            text: f.get("text", Presence::Optional, |v| {
                free_text(v, limits::REVIEW_TEXT)
            }),
            created_at: stamps[0],
        };
        Checked {
            value: draft,
            errors: f.finish(),
        }
    }

    /// The review, from a draft without errors and with the product known.
    pub fn into_review(self, id: Id, product_id: Id, now: Timestamp) -> Option<Review> {
        Some(Review {
            id,
            product_id,
            user_id: self.user_id?,
            rating: self.rating?,
            text: self.text.unwrap_or_default(),
            created_at: self.created_at.unwrap_or(now),
        })
    }
}
