//! The customer's own things: saved addresses (one default, at most
//! [`MAX_SAVED`]), the wishlist with current prices, and notifications.
use super::{MAX_WISHLIST, Orders, OrdersError, now};
use crate::domain::address::{AddressDraft, MAX_SAVED, NewAddress, SavedAddress};
use crate::domain::notification::Notification;
use crate::domain::{Id, Product, Timestamp};
use crate::store::error::StoreError;

impl Orders {
    pub(crate) fn addresses(&self, account: &Id) -> Result<Vec<SavedAddress>, OrdersError> {
        Ok(self.store().read()?.orders().addresses(account.as_str())?)
    }

    pub(crate) async fn add_address(
        &self,
        account: &Id,
        new: NewAddress,
    ) -> Result<SavedAddress, OrdersError> {
        let account = account.clone();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                if all.len() >= MAX_SAVED {
                    return Err(OrdersError::TooManyAddresses);
                }
                let is_default = new.is_default || all.is_empty();
                if is_default {
                    unset_default(&mut c, all)?;
                }
                let a = SavedAddress {
                    id: Id::generate("adr"),
                    account_id: account,
                    address: new.address,
                    is_default,
                    created_at: now(),
                };
                c.put_address(&a)?;
                Ok(a)
            })
            .await
    }

    pub(crate) async fn update_address(
        &self,
        account: &Id,
        id: &str,
        patch: AddressDraft,
    ) -> Result<SavedAddress, OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                let mut a = all
                    .iter()
                    .find(|a| a.id.as_str() == id)
                    .cloned()
                    .ok_or_else(|| OrdersError::NotFound(format!("no address {id}")))?;
                a.address = patch.apply(&a.address);
                if patch.is_default == Some(true) && !a.is_default {
                    unset_default(&mut c, all)?;
                    a.is_default = true;
                }
                c.put_address(&a)?;
                Ok(a)
            })
            .await
    }

    pub(crate) async fn delete_address(&self, account: &Id, id: &str) -> Result<(), OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let all = c.addresses(account.as_str())?;
                let Some(gone) = all.iter().find(|a| a.id.as_str() == id) else {
                    return Err(OrdersError::NotFound(format!("no address {id}")));
                };
                c.delete_address(account.as_str(), &id)?;
                // The oldest remaining address becomes the default.
                if gone.is_default
                    && let Some(mut next) = all.into_iter().find(|a| a.id.as_str() != id)
                {
                    next.is_default = true;
                    c.put_address(&next)?;
                }
                Ok(())
            })
            .await
    }

    /// The wishlist with each product as it is now (gone products left out).
    pub(crate) fn wishlist(&self, account: &Id) -> Result<Vec<(Product, Timestamp)>, OrdersError> {
        let txn = self.store().read()?;
        let mut out = Vec::new();
        for (pid, at) in txn.orders().wishlist(account.as_str())? {
            if let Some(r) = txn.catalog().product(pid.as_str())? {
                out.push((r.to_domain()?, at));
            }
        }
        Ok(out)
    }

    pub(crate) async fn wish(&self, account: &Id, product: &Id) -> Result<(), OrdersError> {
        let account = account.clone();
        let product = product.clone();
        self.store()
            .write(move |tx| {
                if !tx.catalog().product_exists(product.as_str())? {
                    return Err(OrdersError::NotFound(format!("no product {product}")));
                }
                let n = tx
                    .orders()
                    .wish(account.as_str(), product.as_str(), now())?;
                if n > MAX_WISHLIST {
                    return Err(OrdersError::WishlistFull);
                }
                Ok(())
            })
            .await
    }

    pub(crate) async fn unwish(&self, account: &Id, product: &str) -> Result<(), OrdersError> {
        let account = account.clone();
        let product = product.to_string();
        self.store()
            .write(move |tx| {
                if tx.orders().unwish(account.as_str(), &product)? {
                    Ok(())
                } else {
                    Err(OrdersError::NotFound(format!(
                        "product {product} is not on the wishlist"
                    )))
                }
            })
            .await
    }

    pub(crate) fn notifications(&self, account: &Id) -> Result<Vec<Notification>, OrdersError> {
        Ok(self
            .store()
            .read()?
            .orders()
            .notifications(account.as_str())?)
    }

    pub(crate) async fn read_notification(
        &self,
        account: &Id,
        id: &str,
    ) -> Result<(), OrdersError> {
        let account = account.clone();
        let id = id.to_string();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let mut n = c
                    .notification(account.as_str(), &id)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no notification {id}")))?;
                if n.read_at.is_none() {
                    n.read_at = Some(now());
                    c.put_notification(&n)?;
                }
                Ok(())
            })
            .await
    }
}

fn unset_default(
    c: &mut crate::store::orders::OrdersWriter<'_>,
    all: Vec<SavedAddress>,
) -> Result<(), StoreError> {
    for mut a in all.into_iter().filter(|a| a.is_default) {
        a.is_default = false;
        c.put_address(&a)?;
    }
    Ok(())
}
