//! The customer's own things: saved addresses (one default), the wishlist
//! and in-app notifications.

use super::tables::*;
use super::{OrdersReader, OrdersWriter};
use super::{decode_rows, id, ts};
use crate::domain::address::{Address, SavedAddress};
use crate::domain::notification::Notification;
use crate::domain::{Id, Timestamp};
use crate::store::codec::record;
use crate::store::codec::{Record, decode};
use crate::store::error::StoreResult;
use redb::ReadableTable;
use rkyv::{Archive, Deserialize, Serialize};

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct AddressV1 {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl AddressV1 {
    pub(super) fn of(a: &Address) -> AddressV1 {
        AddressV1 {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

impl ArchivedAddressV1 {
    pub(super) fn to_domain(&self) -> Address {
        Address {
            name: self.name.to_string(),
            line1: self.line1.to_string(),
            line2: self.line2.as_ref().map(|s| s.to_string()),
            city: self.city.to_string(),
            postal_code: self.postal_code.to_string(),
            country: self.country.to_string(),
        }
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct SavedAddressV1 {
    pub id: String,
    pub account_id: String,
    pub address: AddressV1,
    pub is_default: bool,
    pub created_at: i64,
}

record! {
    pub(crate) SavedAddressRec in "addresses", version 1;
    SavedAddressV1 as ArchivedSavedAddressV1 <=> SavedAddress;
    encode(a) {
        SavedAddressV1 {
            id: a.id.to_string(),
            account_id: a.account_id.to_string(),
            address: AddressV1::of(&a.address),
            is_default: a.is_default,
            created_at: a.created_at.millis(),
        }
    }
    decode(a) {
        Ok(SavedAddress {
            id: id(&a.id)?,
            account_id: id(&a.account_id)?,
            address: a.address.to_domain(),
            is_default: a.is_default,
            created_at: ts(a.created_at.to_native())?,
        })
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct NotificationV1 {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub message: String,
    pub order_id: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

record! {
    pub(crate) NotificationRec in "notifications", version 1;
    NotificationV1 as ArchivedNotificationV1 <=> Notification;
    encode(n) {
        NotificationV1 {
            id: n.id.to_string(),
            account_id: n.account_id.to_string(),
            kind: n.kind.clone(),
            message: n.message.clone(),
            order_id: n.order_id.as_ref().map(|o| o.to_string()),
            created_at: n.created_at.millis(),
            read_at: n.read_at.map(Timestamp::millis),
        }
    }
    decode(a) {
        Ok(Notification {
            id: id(&a.id)?,
            account_id: id(&a.account_id)?,
            kind: a.kind.to_string(),
            message: a.message.to_string(),
            order_id: a.order_id.as_ref().map(|s| id(s)).transpose()?,
            created_at: ts(a.created_at.to_native())?,
            read_at: a.read_at.as_ref().map(|v| ts(v.to_native())).transpose()?,
        })
    }
}

impl OrdersReader<'_> {
    /// An account's saved addresses, oldest first.
    pub(crate) fn addresses(&self, account: &str) -> StoreResult<Vec<SavedAddress>> {
        let t = self.txn.open_table(ADDRESSES)?;
        let mut v = decode_rows::<SavedAddressRec>(&t, account)?;
        v.sort_by_key(|a| (a.created_at, a.id.clone()));
        Ok(v)
    }

    /// An account's wishlist: product ids with when they were added, newest
    /// first.
    pub(crate) fn wishlist(&self, account: &str) -> StoreResult<Vec<(Id, Timestamp)>> {
        let t = self.txn.open_table(WISHLIST)?;
        let mut out = Vec::new();
        for item in t.range((account, "")..)? {
            let (k, v) = item?;
            let (a, pid) = k.value();
            if a != account {
                break;
            }
            if let (Ok(p), Ok(at)) = (Id::parse(pid), Timestamp::from_millis(v.value())) {
                out.push((p, at));
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(out)
    }

    /// An account's notifications: unread first, then newest first.
    pub(crate) fn notifications(&self, account: &str) -> StoreResult<Vec<Notification>> {
        let t = self.txn.open_table(NOTIFICATIONS)?;
        let mut v = decode_rows::<NotificationRec>(&t, account)?;
        v.sort_by(|a, b| {
            a.read_at
                .is_some()
                .cmp(&b.read_at.is_some())
                .then_with(|| b.created_at.cmp(&a.created_at))
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(v)
    }
}

impl OrdersWriter<'_> {
    pub(crate) fn addresses(&self, account: &str) -> StoreResult<Vec<SavedAddress>> {
        let t = self.tables.open(ADDRESSES)?;
        let mut v = decode_rows::<SavedAddressRec>(&*t, account)?;
        v.sort_by_key(|a| (a.created_at, a.id.clone()));
        Ok(v)
    }

    pub(crate) fn put_address(&mut self, a: &SavedAddress) -> StoreResult<()> {
        self.tables.open(ADDRESSES)?.insert(
            (a.account_id.as_str(), a.id.as_str()),
            SavedAddressRec::encode(a).as_slice(),
        )
    }

    pub(crate) fn delete_address(&mut self, account: &str, address: &str) -> StoreResult<bool> {
        self.tables.open(ADDRESSES)?.remove((account, address))
    }

    /// Adds a product to a wishlist (keeping the first time it was added);
    /// the list's size after.
    pub(crate) fn wish(
        &mut self,
        account: &str,
        product: &str,
        now: Timestamp,
    ) -> StoreResult<usize> {
        let mut t = self.tables.open(WISHLIST)?;
        if t.get((account, product))?.is_none() {
            t.insert((account, product), now.millis())?;
        }
        let mut n = 0;
        for item in t.range((account, "")..)? {
            if item?.0.value().0 != account {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    pub(crate) fn unwish(&mut self, account: &str, product: &str) -> StoreResult<bool> {
        self.tables.open(WISHLIST)?.remove((account, product))
    }

    pub(crate) fn put_notification(&mut self, n: &Notification) -> StoreResult<()> {
        self.tables.open(NOTIFICATIONS)?.insert(
            (n.account_id.as_str(), n.id.as_str()),
            NotificationRec::encode(n).as_slice(),
        )
    }

    pub(crate) fn notification(
        &self,
        account: &str,
        nid: &str,
    ) -> StoreResult<Option<Notification>> {
        let t = self.tables.open(NOTIFICATIONS)?;
        let found = t.get((account, nid))?;
        found
            .map(|g| decode::<NotificationRec>(g.value(), nid))
            .transpose()
    }
}
