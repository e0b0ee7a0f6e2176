//! Pure types (catalogue, accounts, carts and orders): no I/O, no storage, no HTTP.
//!
//! Everything that enters shopd (an HTTP body, a JSONL line) is parsed here into
//! these types, and a parsed value is valid by construction: an [`Id`] has the
//! documented alphabet, a [`Price`] is whole cents in range, and so on. Layers
//! above may trust them; only this module decides what "valid" means.

pub mod account;
pub mod address;
pub mod brand;
pub mod cart;
pub mod category;
pub mod checkout;
pub mod discount;
pub(crate) mod fields;
#[cfg(test)]
pub(crate) mod fuzzing;
pub(crate) mod id;
pub mod job;
pub mod listing;
pub mod media;
pub(crate) mod money;
pub(crate) mod notification;
pub mod order;
pub mod product;
pub mod review;
pub(crate) mod reviewer;
pub mod search;
pub(crate) mod timestamp;

pub use brand::Brand;
pub use category::Category;
pub use fields::{Checked, FieldError, FieldErrors};
pub use id::Id;
pub use money::{Discount, Price};
pub use product::Product;
pub use review::Review;
pub use reviewer::Reviewer;
pub use timestamp::Timestamp;

/// Which kind of write a full record comes from; decides required and
/// forbidden fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// `POST` from the API: `id` optional (generated), timestamps set by the server.
    Create,
    /// A line of an import file: `id` required, timestamps optional.
    Import,
    /// `PATCH` from the API: every field optional, `id` and timestamps immutable.
    Patch,
}

impl InputMode {
    pub(crate) fn presence(self) -> fields::Presence {
        match self {
            InputMode::Patch => fields::Presence::Optional,
            _ => fields::Presence::Required,
        }
    }

    /// Reads `id` (required on import, optional on create, forbidden in a patch)
    /// and the server-managed timestamps, which only an import may carry.
    pub(crate) fn read_identity(
        self,
        f: &mut fields::Fields<'_>,
        timestamps: &[&'static str],
    ) -> (Option<Id>, Vec<Option<Timestamp>>) {
        let id = match self {
            InputMode::Patch => {
                f.forbid("id", "cannot be changed");
                None
            }
            InputMode::Create => f.get("id", fields::Presence::Optional, Id::from_json),
            InputMode::Import => f.get("id", fields::Presence::Required, Id::from_json),
        };
        let stamps = timestamps
            .iter()
            .map(|name| match self {
                InputMode::Import => f.get(name, fields::Presence::Optional, Timestamp::from_json),
                _ => {
                    f.forbid(name, "is set by the server");
                    None
                }
            })
            .collect();
        (id, stamps)
    }
}

/// Limits on free-text fields, shared by every entity.
pub(crate) mod limits {
    pub(crate) const TITLE: usize = 200;
    pub(crate) const DESCRIPTION: usize = 10_000;
    pub(crate) const URL: usize = 2_048;
    pub(crate) const KEYWORD: usize = 64;
    pub(crate) const KEYWORDS: usize = 50;
    pub(crate) const IMAGES: usize = 20;
    pub(crate) const CATEGORIES_PER_PRODUCT: usize = 10;
    pub(crate) const REVIEW_TEXT: usize = 5_000;
    pub(crate) const NAME: usize = 200;
    pub(crate) const EMAIL: usize = 254;
    pub(crate) const STOCK: u64 = 1_000_000_000;
}
