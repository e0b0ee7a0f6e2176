//! Postal addresses: what an order ships to, and the ones a customer saved.

use super::fields::{Fields, Presence, boolean, read_object, text_line};
use super::{FieldErrors, Id, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

/// Addresses one account may keep.
pub(crate) const MAX_SAVED: usize = 20;

/// A shipping address. `country` is an ISO 3166-1 alpha-2 code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// An address a customer saved (`/me/addresses`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavedAddress {
    pub id: Id,
    pub account_id: Id,
    pub address: Address,
    pub is_default: bool,
    pub created_at: Timestamp,
}

fn country(v: &Value) -> Result<String, String> {
    let s = v.as_str().ok_or("must be a string")?.trim();
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err("must be a two-letter country code (ISO 3166-1 alpha-2), such as DE".into())
    }
}

fn postal_code(v: &Value) -> Result<String, String> {
    text_line(v, 16)
}

/// The fields of an address; `None`: not sent (or bad, with the error kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressDraft {
    pub name: Option<String>,
    pub line1: Option<String>,
    /// `Some(None)`: cleared with `null`.
    pub line2: Option<Option<String>>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

impl AddressDraft {
    /// Reads the address fields from `f`, each `presence` (the default flag
    /// only when `with_default`).
    fn read(f: &mut Fields<'_>, presence: Presence, with_default: bool) -> AddressDraft {
        let line = |v: &Value| text_line(v, 200);
        AddressDraft {
            name: f.get("name", presence, line),
            line1: f.get("line1", presence, line),
            line2: f.nullable("line2", line),
            city: f.get("city", presence, |v| text_line(v, 100)),
            postal_code: f.get("postalCode", presence, postal_code),
            country: f.get("country", presence, country),
            is_default: if with_default {
                f.get("isDefault", Presence::Optional, boolean)
            } else {
                None
            },
        }
    }

    /// A complete address, when every required field parsed.
    pub(crate) fn complete(&self) -> Option<Address> {
        Some(Address {
            name: self.name.clone()?,
            line1: self.line1.clone()?,
            line2: self.line2.clone().flatten(),
            city: self.city.clone()?,
            postal_code: self.postal_code.clone()?,
            country: self.country.clone()?,
        })
    }

    /// `a` with the sent fields replaced.
    pub(crate) fn apply(&self, a: &Address) -> Address {
        Address {
            name: self.name.clone().unwrap_or_else(|| a.name.clone()),
            line1: self.line1.clone().unwrap_or_else(|| a.line1.clone()),
            line2: match &self.line2 {
                Some(v) => v.clone(),
                None => a.line2.clone(),
            },
            city: self.city.clone().unwrap_or_else(|| a.city.clone()),
            postal_code: self
                .postal_code
                .clone()
                .unwrap_or_else(|| a.postal_code.clone()),
            country: self.country.clone().unwrap_or_else(|| a.country.clone()),
        }
    }
}

/// `POST /me/addresses`: a whole address, and whether it is the default.
#[derive(Debug, Clone)]
pub(crate) struct NewAddress {
    pub address: Address,
    pub is_default: bool,
}

impl NewAddress {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<NewAddress, FieldErrors> {
        read_object(map, |f| {
            let d = AddressDraft::read(f, Presence::Required, true);
            Some(NewAddress {
                address: d.complete()?,
                is_default: d.is_default.unwrap_or(false),
            })
        })
    }
}

/// `PATCH /me/addresses/{id}`: some fields.
pub(crate) fn parse_address_patch(map: &Map<String, Value>) -> Result<AddressDraft, FieldErrors> {
    read_object(map, |f| {
        Some(AddressDraft::read(f, Presence::Optional, true))
    })
}

/// An address nested in another object (a checkout's `shippingAddress`):
/// errors are named `{field}.{name}`.
pub fn parse_nested(v: &Value, field: &str) -> Result<Address, FieldErrors> {
    let Some(map) = v.as_object() else {
        let mut e = FieldErrors::new();
        e.push(field, "must be an object");
        return Err(e);
    };
    read_object(map, |f| {
        AddressDraft::read(f, Presence::Required, false).complete()
    })
    .map_err(|errors| {
        let mut out = FieldErrors::new();
        for e in errors.as_slice() {
            out.push(format!("{field}.{}", e.field), e.reason.clone());
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nested_address_names_its_bad_fields_with_the_prefix() {
        let v = json!({"name": "Ada", "line1": "1 Main St", "city": "Berlin",
                       "postalCode": "10115", "country": "de"});
        let a = parse_nested(&v, "shippingAddress").unwrap();
        assert_eq!(a.country, "DE");
        assert_eq!(a.line2, None);
        let bad = json!({"name": "", "line1": "x", "city": "y", "country": "Germany", "zip": 1});
        let e = parse_nested(&bad, "shippingAddress").unwrap_err();
        let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "shippingAddress.name",
                "shippingAddress.postalCode",
                "shippingAddress.country",
                "shippingAddress.zip"
            ]
        );
    }
}
