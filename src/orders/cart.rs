//! Carts: an account's, or a guest's behind its token; every answer
//! re-priced from the catalogue as it is now.
use super::{Orders, OrdersError, now, product_in};
use crate::domain::Id;
use crate::domain::cart::{self, Cart, CartError, CartItem, CartOwner, PricedCart};
use crate::store::WriteTxn;

impl Orders {
    fn price_now(&self, cart: &Cart) -> Result<PricedCart, OrdersError> {
        let txn = self.store().read()?;
        let mut err = None;
        let priced = cart::price(cart, |id| match txn.catalog().product(id) {
            Ok(Some(r)) => r.to_domain().map_err(|e| err = Some(e)).ok(),
            Ok(None) => None,
            Err(e) => {
                err = Some(e);
                None
            }
        });
        match err {
            Some(e) => Err(e.into()),
            None => Ok(priced),
        }
    }

    /// The cart of `owner`, priced now (empty when it has none).
    /// Whether `owner` has a cart (a guest's token is one the server
    /// issued and still holds).
    pub(crate) fn has_cart(&self, owner: &CartOwner) -> Result<bool, OrdersError> {
        Ok(self.store().read()?.orders().cart(&owner.key())?.is_some())
    }

    pub(crate) fn cart(&self, owner: &CartOwner) -> Result<PricedCart, OrdersError> {
        let cart = self
            .store()
            .read()?
            .orders()
            .cart(&owner.key())?
            .unwrap_or_default();
        self.price_now(&cart)
    }

    /// Changes the cart of `owner` with `change` in one write; the cart
    /// priced after.
    async fn change_cart(
        &self,
        owner: &CartOwner,
        change: impl FnOnce(&mut WriteTxn, &mut Cart) -> Result<(), OrdersError> + Send + 'static,
    ) -> Result<PricedCart, OrdersError> {
        let key = owner.key();
        let cart = self
            .store()
            .write(move |tx| {
                let mut cart = tx.orders().cart(&key)?.unwrap_or_default();
                change(tx, &mut cart)?;
                cart.updated_at = Some(now());
                tx.orders().put_cart(&key, &cart)?;
                Ok::<_, OrdersError>(cart)
            })
            .await?;
        self.price_now(&cart)
    }

    /// Adds a product (which must exist and be for sale) to a cart.
    pub(crate) async fn add_item(
        &self,
        owner: &CartOwner,
        item: CartItem,
    ) -> Result<PricedCart, OrdersError> {
        self.change_cart(owner, move |tx, cart| {
            let pid = item.product_id.to_string();
            let p = product_in(tx, &pid)?
                .ok_or_else(|| OrdersError::NotFound(format!("no product {pid}")))?;
            if !p.is_available {
                return Err(OrdersError::Unavailable(pid));
            }
            cart.add(item.product_id, item.quantity, cart::unit_price_cents(&p))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_quantity(
        &self,
        owner: &CartOwner,
        product: &str,
        quantity: u32,
    ) -> Result<PricedCart, OrdersError> {
        let pid = product.to_string();
        self.change_cart(owner, move |tx, cart| {
            if cart.line(&pid).is_none() {
                return Err(CartError::NotInCart(pid).into());
            }
            let price = match product_in(tx, &pid)? {
                Some(p) => cart::unit_price_cents(&p),
                None => cart.line(&pid).map_or(0, |l| l.unit_price_cents),
            };
            cart.set(&pid, quantity, price)?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn remove_item(
        &self,
        owner: &CartOwner,
        product: &str,
    ) -> Result<PricedCart, OrdersError> {
        let pid = product.to_string();
        self.change_cart(owner, move |_, cart| Ok(cart.remove(&pid)?))
            .await
    }

    pub(crate) async fn clear_cart(&self, owner: &CartOwner) -> Result<(), OrdersError> {
        let key = owner.key();
        self.store()
            .write(move |tx| {
                tx.orders().put_cart(&key, &Cart::default())?;
                Ok::<_, OrdersError>(())
            })
            .await
    }

    /// Moves a guest cart into an account's cart (after sign-in).
    pub(crate) async fn merge_guest_cart(
        &self,
        guest: CartOwner,
        account: &Id,
    ) -> Result<(), OrdersError> {
        let from = guest.key();
        let to = CartOwner::Account(account.clone()).key();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let Some(g) = c.cart(&from)? else {
                    return Ok::<_, OrdersError>(());
                };
                let mut mine = c.cart(&to)?.unwrap_or_default();
                mine.merge(g);
                mine.updated_at = Some(now());
                c.put_cart(&to, &mine)?;
                c.put_cart(&from, &Cart::default())?;
                Ok(())
            })
            .await
    }
}
