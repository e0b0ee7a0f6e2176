//! Carts: one per owner (`a:<account>` or `g:<token hash>`), stored whole.

use super::tables::*;
use super::{OrdersReader, OrdersWriter};
use super::{id, ts};
use crate::domain::Timestamp;
use crate::domain::cart::{Cart, CartLine};
use crate::store::codec::record;
use crate::store::codec::{Record, decode};
use crate::store::error::StoreResult;
use redb::ReadableTable;
use rkyv::{Archive, Deserialize, Serialize};

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct CartLineV1 {
    pub product_id: String,
    pub quantity: u32,
    pub unit_price_cents: u64,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct CartV1 {
    pub lines: Vec<CartLineV1>,
    pub updated_at: i64,
}

record! {
    pub(crate) CartRec in "carts", version 1;
    CartV1 as ArchivedCartV1 <=> Cart;
    encode(c) {
        CartV1 {
            lines: c
                .lines
                .iter()
                .map(|l| CartLineV1 {
                    product_id: l.product_id.to_string(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            updated_at: c.updated_at.map_or(0, Timestamp::millis),
        }
    }
    decode(a) {
        Ok(Cart {
            lines: a
                .lines
                .iter()
                .map(|l| {
                    Ok(CartLine {
                        product_id: id(&l.product_id)?,
                        quantity: l.quantity.to_native(),
                        unit_price_cents: l.unit_price_cents.to_native(),
                    })
                })
                .collect::<Result<_, String>>()?,
            updated_at: Some(ts(a.updated_at.to_native())?),
        })
    }
}

impl OrdersReader<'_> {
    pub(crate) fn cart(&self, owner_key: &str) -> StoreResult<Option<Cart>> {
        let t = self.txn.open_table(CARTS)?;
        let found = t.get(owner_key)?;
        found
            .map(|g| decode::<CartRec>(g.value(), owner_key))
            .transpose()
    }
}

impl OrdersWriter<'_> {
    pub(crate) fn cart(&self, owner_key: &str) -> StoreResult<Option<Cart>> {
        let t = self.tables.open(CARTS)?;
        let found = t.get(owner_key)?;
        found
            .map(|g| decode::<CartRec>(g.value(), owner_key))
            .transpose()
    }

    /// Stores a cart; an empty one is removed.
    pub(crate) fn put_cart(&mut self, owner_key: &str, cart: &Cart) -> StoreResult<()> {
        let mut t = self.tables.open(CARTS)?;
        if cart.is_empty() {
            t.remove(owner_key)?;
        } else {
            t.insert(owner_key, CartRec::encode(cart).as_slice())?;
        }
        Ok(())
    }
}
