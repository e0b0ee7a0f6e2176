//! Reviews: one use case for both ways a review is written — staff
//! importing any user's review, and a customer reviewing, once, a product
//! of one of their completed orders (a verified purchase) — and staff
//! moderation (hide, show). The product's rating aggregate changes in the
//! same write as the review.

use super::writes::{all_found, check_review_refs, fail_on, missing_required, new_id};
use super::{Catalog, CatalogError, CatalogResult, Created, not_found};
use crate::domain::review::ReviewDraft;
use crate::domain::{Checked, Id, Reviewer, Timestamp};

/// Who writes a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReviewAuthor {
    /// Staff, importing a review of any user (the draft's `userId`).
    Staff,
    /// A signed-in customer, reviewing as themselves (the draft's `userId`
    /// is theirs) a product they bought.
    Customer(Id),
}

impl Catalog {
    /// Adds a review of `product_id` by `author`; returns the review as
    /// JSON, with its author. A customer needs a completed order holding
    /// the product (`NotPurchased` otherwise) and reviews it once
    /// (`AlreadyReviewed`).
    pub(crate) async fn create_review(
        &self,
        author: ReviewAuthor,
        product_id: &str,
        input: Checked<ReviewDraft>,
    ) -> CatalogResult<Created> {
        let review = match author {
            ReviewAuthor::Staff => self.import_review(product_id, input).await?,
            ReviewAuthor::Customer(account) => {
                self.customer_review(&account, product_id, input).await?
            }
        };
        self.review_created(review.as_str())
    }

    /// Staff import: any user's review, with its own id when it has one.
    async fn import_review(
        &self,
        product_id: &str,
        input: Checked<ReviewDraft>,
    ) -> CatalogResult<Id> {
        let Checked { value: d, errors } = input;
        let product_id_ = product_id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                if !w.product_exists(&product_id_)? {
                    return Err(not_found("product", &product_id_));
                }
                fail_on(errors)?;
                let mut missing = crate::domain::FieldErrors::new();
                check_review_refs(&w, &d, &mut missing)?;
                all_found(missing)?;
                let id = new_id(d.id.clone(), "review", "r", |id| w.review_exists(id))?;
                // Parsed already (product id from the URL is valid: it exists).
                let pid =
                    Id::parse(&product_id_).map_err(|_| not_found("product", &product_id_))?;
                let r = d
                    .into_review(id, pid, Timestamp::now())
                    .ok_or_else(missing_required)?;
                w.put_review(&r)?;
                Ok::<_, CatalogError>(r.id)
            })
            .await
    }

    /// A customer's review of a product they bought (a completed order of
    /// theirs holds it); one per product and account.
    async fn customer_review(
        &self,
        account: &Id,
        product: &str,
        input: Checked<ReviewDraft>,
    ) -> CatalogResult<Id> {
        let Checked { value: d, errors } = input;
        let account = account.clone();
        let product = product.to_string();
        let who = self
            .store
            .read()?
            .accounts()
            .account(account.as_str())?
            .ok_or_else(|| not_found("account", account.as_str()))?;
        self.store
            .write(move |tx| {
                if !tx.catalog().product_exists(&product)? {
                    return Err(not_found("product", &product));
                }
                fail_on(errors)?;
                if tx
                    .orders()
                    .customer_review(account.as_str(), &product)?
                    .is_some()
                {
                    return Err(CatalogError::AlreadyReviewed);
                }
                if !tx.orders().bought(account.as_str(), &product)? {
                    return Err(CatalogError::NotPurchased);
                }
                let now = Timestamp::now();
                if !tx.catalog().reviewer_exists(account.as_str())? {
                    tx.catalog().put_reviewer(&Reviewer {
                        id: account.clone(),
                        email: who.email.as_str().to_string(),
                        name: who.name.clone(),
                        created_at: now,
                    })?;
                }
                let pid = Id::parse(&product).map_err(|_| not_found("product", &product))?;
                let mut id = Id::generate("r");
                while tx.catalog().review_exists(id.as_str())? {
                    id = Id::generate("r");
                }
                let review = ReviewDraft {
                    user_id: Some(account.clone()),
                    ..d
                }
                .into_review(id.clone(), pid, now)
                .ok_or_else(|| {
                    let mut e = crate::domain::FieldErrors::new();
                    e.push("rating", "is required");
                    CatalogError::Validation(e)
                })?;
                tx.catalog().put_review(&review)?;
                tx.orders()
                    .put_customer_review(account.as_str(), &product, id.as_str())?;
                Ok(id)
            })
            .await
    }

    /// Hides a review (staff moderation): it leaves its product's reviews
    /// and rating at once, caches included.
    pub(crate) async fn hide_review(&self, id: &str) -> CatalogResult<()> {
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                if tx.catalog().hide_review(&id_)? {
                    Ok(())
                } else {
                    Err(not_found("review", &id_))
                }
            })
            .await
    }

    /// Shows a hidden review again.
    pub(crate) async fn show_review(&self, id: &str) -> CatalogResult<()> {
        let id_ = id.to_string();
        self.store
            .write(move |tx| match tx.catalog().show_review(&id_)? {
                Some(true) => Ok(()),
                Some(false) => Err(CatalogError::InUse(format!(
                    "review '{id_}' is of a deleted product"
                ))),
                None => Err(not_found("hidden review", &id_)),
            })
            .await
    }

    /// The answer to a review's creation: the review as JSON, with its
    /// author.
    pub(crate) fn review_created(&self, review_id: &str) -> CatalogResult<Created> {
        let txn = self.store.read()?;
        let rec = txn
            .catalog()
            .review(review_id)?
            .ok_or_else(|| not_found("review", review_id))?;
        let review = rec.to_domain()?;
        let user = txn.catalog().reviewer(review.user_id.as_str())?;
        let item =
            super::json::ReviewItem::new(rec.view()?, user.as_ref().map(|u| u.view()).transpose()?);
        Ok(Created {
            body: super::json::to_vec(&super::json::Data { data: item }),
            id: review_id.to_string(),
        })
    }
}
