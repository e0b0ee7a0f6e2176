//! Write use cases. Each runs in one write transaction: the draft's own
//! errors (a 422), the records it names (one that is not there is a 404:
//! the input is well-formed, what it refers to is missing), duplicate and
//! usage checks, then the write, then a durable commit.

use super::{Catalog, CatalogError, CatalogResult, not_found};
use crate::domain::brand::BrandDraft;
use crate::domain::category::CategoryDraft;
use crate::domain::product::ProductDraft;
use crate::domain::review::ReviewDraft;
use crate::domain::{Checked, FieldErrors, Id, Timestamp};
use crate::store::{CatalogWriter, StoreResult};

/// Adds an error for every reference in a product draft that names nothing.
pub(super) fn check_product_refs(
    w: &CatalogWriter,
    d: &ProductDraft,
    errors: &mut FieldErrors,
) -> StoreResult<()> {
    if let Some(b) = &d.brand_id
        && !w.brand_exists(b.as_str())?
    {
        errors.push("brandId", format!("unknown brand '{b}'"));
    }
    for c in d.category_ids.iter().flatten() {
        if !w.category_exists(c.as_str())? {
            errors.push("categoryIds", format!("unknown category '{c}'"));
        }
    }
    for image in d.images.iter().flatten() {
        if let Some(m) = crate::domain::media::MediaId::referenced_by(image)
            && !w.media_exists(&m)?
        {
            errors.push("images", format!("unknown image '{m}'"));
        }
    }
    Ok(())
}

/// Checks a new parent: it exists (else an entry in `missing`) and is
/// not `id` or one of its descendants (else an entry in `errors`).
pub(super) fn check_parent(
    w: &mut CatalogWriter,
    id: Option<&Id>,
    parent: Option<&Id>,
    missing: &mut FieldErrors,
    errors: &mut FieldErrors,
) -> StoreResult<()> {
    let Some(parent) = parent else { return Ok(()) };
    if !w.category_exists(parent.as_str())? {
        missing.push("parentId", format!("unknown category '{parent}'"));
    } else if let Some(id) = id
        && w.category_lineage(parent.as_str())?
            .iter()
            .any(|a| a == id.as_str())
    {
        errors.push(
            "parentId",
            format!("'{parent}' is '{id}' or one of its descendants; a category cannot be its own ancestor"),
        );
    }
    Ok(())
}

pub(super) fn check_review_refs(
    w: &CatalogWriter,
    d: &ReviewDraft,
    errors: &mut FieldErrors,
) -> StoreResult<()> {
    if let Some(u) = &d.user_id
        && !w.reviewer_exists(u.as_str())?
    {
        errors.push("userId", format!("unknown user '{u}'"));
    }
    Ok(())
}

pub(super) fn fail_on(errors: FieldErrors) -> CatalogResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CatalogError::Validation(errors))
    }
}

/// `Err` (a 404) when a draft names records that are not there.
pub(super) fn all_found(missing: FieldErrors) -> CatalogResult<()> {
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CatalogError::Missing(missing))
    }
}

/// The id to create under: the client's, which must be free, or a fresh one.
pub(super) fn new_id(
    requested: Option<Id>,
    kind: &'static str,
    prefix: &str,
    exists: impl Fn(&str) -> StoreResult<bool>,
) -> CatalogResult<Id> {
    match requested {
        Some(id) if exists(id.as_str())? => Err(CatalogError::Duplicate {
            kind,
            id: id.into_string(),
        }),
        Some(id) => Ok(id),
        None => loop {
            let id = Id::generate(prefix);
            if !exists(id.as_str())? {
                return Ok(id);
            }
        },
    }
}

pub(super) fn missing_required() -> CatalogError {
    let mut e = FieldErrors::new();
    e.push("body", "required fields are missing");
    CatalogError::Validation(e)
}

/// A created record: its id and its JSON body.
#[derive(Debug)]
pub struct Created {
    pub id: String,
    pub body: Vec<u8>,
}

impl Catalog {
    pub(crate) async fn create_product(
        &self,
        input: Checked<ProductDraft>,
    ) -> CatalogResult<Created> {
        let Checked { value: d, errors } = input;
        fail_on(errors)?;
        let id = self
            .store
            .write(move |tx| {
                let mut w = tx.catalog();
                let mut missing = FieldErrors::new();
                check_product_refs(&w, &d, &mut missing)?;
                all_found(missing)?;
                let id = new_id(d.id.clone(), "product", "p", |id| w.product_exists(id))?;
                let p = d
                    .into_product(id, Timestamp::now())
                    .ok_or_else(missing_required)?;
                w.put_product(&p)?;
                Ok::<_, CatalogError>(p.id)
            })
            .await?;
        Ok(Created {
            body: self.product_detail(id.as_str())?.body,
            id: id.into_string(),
        })
    }

    pub async fn update_product(
        &self,
        id: &str,
        input: Checked<ProductDraft>,
    ) -> CatalogResult<Vec<u8>> {
        let Checked { value: d, errors } = input;
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                let mut p = w.product(&id_)?.ok_or_else(|| not_found("product", &id_))?;
                fail_on(errors)?;
                let mut missing = FieldErrors::new();
                check_product_refs(&w, &d, &mut missing)?;
                all_found(missing)?;
                d.apply_to(&mut p, Timestamp::now());
                w.put_product(&p)?;
                Ok::<_, CatalogError>(())
            })
            .await?;
        Ok(self.product_detail(id)?.body)
    }

    pub(crate) async fn delete_product(&self, id: &str) -> CatalogResult<()> {
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                if w.delete_product(&id_)? {
                    Ok(())
                } else {
                    Err(not_found("product", &id_))
                }
            })
            .await
    }

    pub(crate) async fn create_brand(&self, input: Checked<BrandDraft>) -> CatalogResult<Created> {
        let Checked { value: d, errors } = input;
        fail_on(errors)?;
        let id = self
            .store
            .write(move |tx| {
                let mut w = tx.catalog();
                let id = new_id(d.id.clone(), "brand", "b", |id| w.brand_exists(id))?;
                let b = d.into_brand(id);
                w.put_brand(&b)?;
                Ok::<_, CatalogError>(b.id)
            })
            .await?;
        Ok(Created {
            body: self.brand(id.as_str())?.body,
            id: id.into_string(),
        })
    }

    pub(crate) async fn update_brand(
        &self,
        id: &str,
        input: Checked<BrandDraft>,
    ) -> CatalogResult<Vec<u8>> {
        let Checked { value: d, errors } = input;
        fail_on(errors)?;
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                let mut b = w.brand(&id_)?.ok_or_else(|| not_found("brand", &id_))?;
                d.apply_to(&mut b);
                w.put_brand(&b)?;
                Ok::<_, CatalogError>(())
            })
            .await?;
        Ok(self.brand(id)?.body)
    }

    pub(crate) async fn delete_brand(&self, id: &str) -> CatalogResult<()> {
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                if !w.brand_exists(&id_)? {
                    return Err(not_found("brand", &id_));
                }
                let n = w.brand_product_count(&id_)?;
                if n > 0 {
                    return Err(CatalogError::InUse(format!(
                        "brand '{id_}' is used by {n} product(s)"
                    )));
                }
                w.delete_brand(&id_)?;
                Ok(())
            })
            .await
    }

    pub(crate) async fn create_category(
        &self,
        input: Checked<CategoryDraft>,
    ) -> CatalogResult<Created> {
        let Checked {
            value: d,
            mut errors,
        } = input;
        fail_on(std::mem::take(&mut errors))?;
        let id = self
            .store
            .write(move |tx| {
                let mut w = tx.catalog();
                let mut missing = FieldErrors::new();
                check_parent(
                    &mut w,
                    d.id.as_ref(),
                    d.parent_id.clone().flatten().as_ref(),
                    &mut missing,
                    &mut errors,
                )?;
                all_found(missing)?;
                fail_on(errors)?;
                let id = new_id(d.id.clone(), "category", "c", |id| w.category_exists(id))?;
                let c = d.into_category(id);
                w.put_category(&c)?;
                Ok::<_, CatalogError>(c.id)
            })
            .await?;
        Ok(Created {
            body: self.category(id.as_str())?.body,
            id: id.into_string(),
        })
    }

    pub(crate) async fn update_category(
        &self,
        id: &str,
        input: Checked<CategoryDraft>,
    ) -> CatalogResult<Vec<u8>> {
        let Checked {
            value: d,
            mut errors,
        } = input;
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                let mut c = w
                    .category(&id_)?
                    .ok_or_else(|| not_found("category", &id_))?;
                fail_on(std::mem::take(&mut errors))?;
                if let Some(Some(parent)) = &d.parent_id {
                    let mut missing = FieldErrors::new();
                    check_parent(&mut w, Some(&c.id), Some(parent), &mut missing, &mut errors)?;
                    all_found(missing)?;
                }
                fail_on(errors)?;
                d.apply_to(&mut c);
                w.put_category(&c)?;
                Ok::<_, CatalogError>(())
            })
            .await?;
        Ok(self.category(id)?.body)
    }

    pub(crate) async fn delete_category(&self, id: &str) -> CatalogResult<()> {
        let id_ = id.to_string();
        self.store
            .write(move |tx| {
                let mut w = tx.catalog();
                if !w.category_exists(&id_)? {
                    return Err(not_found("category", &id_));
                }
                let kids = w.category_children(&id_)?;
                if !kids.is_empty() {
                    return Err(CatalogError::InUse(format!(
                        "category '{id_}' has {} subcategories",
                        kids.len()
                    )));
                }
                let n = w.category_product_count(&id_)?;
                if n > 0 {
                    return Err(CatalogError::InUse(format!(
                        "category '{id_}' is used by {n} product(s)"
                    )));
                }
                w.delete_category(&id_)?;
                Ok(())
            })
            .await
    }
}
