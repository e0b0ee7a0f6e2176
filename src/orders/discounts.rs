//! Discount codes, as staff manage them (a checkout uses them: see
//! `checkout`).
use super::{Orders, OrdersError, field, now};
use crate::domain::FieldErrors;
use crate::domain::discount::{DiscountCode, DiscountDraft};

impl Orders {
    pub(crate) fn discount_codes(&self) -> Result<Vec<DiscountCode>, OrdersError> {
        Ok(self.store().read()?.orders().discount_codes()?)
    }

    pub(crate) fn discount_code(&self, code: &str) -> Result<DiscountCode, OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .read()?
            .orders()
            .discount_code(&code)?
            .ok_or_else(|| OrdersError::NotFound(format!("no discount code {code}")))
    }

    pub(crate) async fn create_discount_code(
        &self,
        draft: DiscountDraft,
    ) -> Result<DiscountCode, OrdersError> {
        let code = draft
            .create(now())
            .ok_or_else(|| field("code", "is required"))?;
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                if c.discount_code(&code.code)?.is_some() {
                    return Err(OrdersError::Exists(code.code));
                }
                c.put_discount_code(&code)?;
                Ok(code)
            })
            .await
    }

    /// Changes a code's terms. An unknown code is a 404 whatever the patch
    /// says (as for every other record), then the patch's own errors, then
    /// those of the result (a window that ends before it starts).
    pub(crate) async fn update_discount_code(
        &self,
        code: &str,
        patch: Result<DiscountDraft, FieldErrors>,
    ) -> Result<DiscountCode, OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .write(move |tx| {
                let mut c = tx.orders();
                let d = c
                    .discount_code(&code)?
                    .ok_or_else(|| OrdersError::NotFound(format!("no discount code {code}")))?;
                let patch = patch.map_err(OrdersError::Validation)?;
                let n = patch.apply(&d, now()).map_err(OrdersError::Validation)?;
                c.put_discount_code(&n)?;
                Ok(n)
            })
            .await
    }

    pub(crate) async fn delete_discount_code(&self, code: &str) -> Result<(), OrdersError> {
        let code = code.to_ascii_uppercase();
        self.store()
            .write(move |tx| {
                if tx.orders().delete_discount_code(&code)? {
                    Ok(())
                } else {
                    Err(OrdersError::NotFound(format!("no discount code {code}")))
                }
            })
            .await
    }
}
