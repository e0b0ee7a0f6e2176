//! Discount-code writes over the wire: the bodies of `POST` and `PATCH
//! /admin/discount-codes` (parsed by `domain::discount::DiscountDraft`).
//!
//! What `value` may be depends on `type` (a whole percent 1–100, or an
//! amount above 0 with at most two decimals), and a patch changes `type`
//! and `value` together or not at all, so each body is a `oneOf` of its
//! shapes, built here by hand: the derive cannot say "this field's schema
//! depends on that one".

use super::input;
use super::patterns;
use crate::domain::Price;
use crate::domain::discount::DiscountDraft;
use serde_json::json;
use std::borrow::Cow;
use utoipa::PartialSchema;
use utoipa::ToSchema;
use utoipa::openapi::Ref;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::schema::Discriminator;
use utoipa::openapi::schema::KnownFormat;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::SchemaFormat;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::schema::Type;

/// `POST /admin/discount-codes`: a percentage off, or an amount off.
pub(crate) struct DiscountBody;
input!(DiscountBody, DiscountDraft, |m| DiscountDraft::parse(
    m, true
));

/// `PATCH /admin/discount-codes/{id}`: the terms, with or without a new
/// `type` and `value` (the code itself never changes).
pub(crate) struct DiscountPatchBody;
input!(DiscountPatchBody, DiscountDraft, |m| DiscountDraft::parse(
    m, false
));

/// Largest usage limit (`domain::discount` `limit`).
const MAX_LIMIT: u32 = 1_000_000_000;

/// The biggest amount, in the unit the API shows prices in.
fn max_amount() -> f64 {
    Price::MAX_CENTS as f64 / 100.0
}

/// An amount of money: 0 or more, whole cents (`domain::Price`).
fn amount(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some(description))
        .minimum(Some(0))
        .maximum(Some(max_amount()))
        .multiple_of(Some(0.01))
}

fn nullable(t: Type) -> SchemaType {
    SchemaType::from_iter([t, Type::Null])
}

/// `startsAt` … `active`: what every write may carry besides `code`,
/// `type` and `value`.
fn terms(o: ObjectBuilder) -> ObjectBuilder {
    let time = |description: &str| {
        ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(patterns::DATE_TIME_YEAR))
            .description(Some(description))
    };
    let limit = |description: &str| {
        ObjectBuilder::new()
            .schema_type(nullable(Type::Integer))
            .description(Some(description))
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT))
    };
    o.property(
        "startsAt",
        time("When the code starts to apply (RFC 3339, years 1000–8999); `null`: at once."),
    )
    .property(
        "endsAt",
        time("When it stops (after `startsAt`); `null`: never."),
    )
    .property(
        "minOrder",
        amount("Smallest subtotal it applies to (0 by default)."),
    )
    .property(
        "usageLimit",
        limit("Orders that may use it in all; `null`: unlimited."),
    )
    .property(
        "perCustomerLimit",
        limit("Orders one customer may use it for; `null`: unlimited."),
    )
    .property("active", ObjectBuilder::new().schema_type(Type::Boolean))
    .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// One of the two kinds: its `type` and what its `value` is.
#[derive(Clone, Copy)]
enum Kind {
    Percent,
    Fixed,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Percent => "percent",
            Kind::Fixed => "fixed",
        }
    }

    fn value(self) -> ObjectBuilder {
        match self {
            Kind::Percent => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("A whole percent off the subtotal."))
                .minimum(Some(1))
                .maximum(Some(100)),
            Kind::Fixed => ObjectBuilder::new()
                .schema_type(Type::Number)
                .description(Some("The amount off (at most the subtotal)."))
                .exclusive_minimum(Some(0))
                .maximum(Some(max_amount()))
                .multiple_of(Some(0.01)),
        }
    }

    /// `type` and `value`, both required.
    fn with(self, o: ObjectBuilder) -> ObjectBuilder {
        o.property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([self.name()])),
        )
        .property("value", self.value())
        .required("type")
        .required("value")
    }
}

/// A new code of `kind`.
fn create(kind: Kind) -> Schema {
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "3–32 letters, digits, `-` or `_`; matched case-insensitively.",
        ))
        .pattern(Some(patterns::DISCOUNT_CODE));
    let example = match kind {
        Kind::Percent => json!({"code": "WELCOME10", "type": "percent", "value": 10,
                                "usageLimit": 100, "perCustomerLimit": 1}),
        Kind::Fixed => json!({"code": "FIVE-OFF", "type": "fixed", "value": 5, "minOrder": 25}),
    };
    let description = match kind {
        Kind::Percent => "`POST /admin/discount-codes`: a whole percent off.",
        Kind::Fixed => "`POST /admin/discount-codes`: an amount off.",
    };
    let o = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property("code", code)
        .required("code");
    Schema::Object(terms(kind.with(o)).examples([example]).build())
}

/// A patch that sets a new `type` and `value` (and any terms).
fn patch(kind: Kind) -> Schema {
    let example = match kind {
        Kind::Percent => json!({"type": "percent", "value": 15}),
        Kind::Fixed => json!({"type": "fixed", "value": 7.5}),
    };
    let description = match kind {
        Kind::Percent => "New terms, and a whole percent off.",
        Kind::Fixed => "New terms, and an amount off.",
    };
    Schema::Object(
        terms(kind.with(ObjectBuilder::new().schema_type(Type::Object)))
            .description(Some(description))
            .examples([example])
            .build(),
    )
}

/// `oneOf` the named schemas.
fn one_of(names: &[&str], discriminator: Option<Discriminator>) -> RefOr<Schema> {
    let mut one = OneOfBuilder::new().discriminator(discriminator);
    for name in names {
        one = one.item(Ref::from_schema_name(*name));
    }
    one.into()
}

fn by_type(percent: &str, fixed: &str) -> Discriminator {
    let mut d = Discriminator::new("type");
    for (kind, name) in [("percent", percent), ("fixed", fixed)] {
        d.mapping
            .insert(kind.into(), format!("#/components/schemas/{name}"));
    }
    d
}

impl PartialSchema for DiscountBody {
    fn schema() -> RefOr<Schema> {
        one_of(
            &["PercentDiscountBody", "FixedDiscountBody"],
            Some(by_type("PercentDiscountBody", "FixedDiscountBody")),
        )
    }
}

impl ToSchema for DiscountBody {
    fn name() -> Cow<'static, str> {
        "DiscountBody".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("PercentDiscountBody".into(), create(Kind::Percent).into()));
        schemas.push(("FixedDiscountBody".into(), create(Kind::Fixed).into()));
    }
}

impl PartialSchema for DiscountPatchBody {
    fn schema() -> RefOr<Schema> {
        one_of(
            &[
                "DiscountTermsPatch",
                "PercentDiscountPatch",
                "FixedDiscountPatch",
            ],
            None,
        )
    }
}

impl ToSchema for DiscountPatchBody {
    fn name() -> Cow<'static, str> {
        "DiscountPatchBody".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        let terms_only = terms(ObjectBuilder::new().schema_type(Type::Object))
            .description(Some("New terms; `type` and `value` stay."))
            .examples([json!({"active": false})]);
        schemas.push((
            "DiscountTermsPatch".into(),
            Schema::Object(terms_only.build()).into(),
        ));
        schemas.push(("PercentDiscountPatch".into(), patch(Kind::Percent).into()));
        schemas.push(("FixedDiscountPatch".into(), patch(Kind::Fixed).into()));
    }
}
