//! The contract against the parsers: every request body the served
//! document allows, its parser takes.
//!
//! A client (or schemathesis) that follows the document must never get a
//! 422 for the shape of what it sent: a body the document allows and the
//! parser refuses means a bound, a pattern or a `null` the document does
//! not state. So each body type's schema (JSON Schema 2020-12, formats
//! asserted) judges bodies made of its own field names with near-valid
//! values (blank, control characters, lengths at the limits, whole numbers
//! written `3.0`, sub-cent amounts, timestamps at the ends of the range,
//! `null`…), and every body it calls valid must parse.
//!
//! The few rules a JSON Schema cannot state (one field compared with
//! another) are listed in [`cannot_state`], each with the field it
//! reports; a body refused for anything else fails the test.

use crate::api::extract::body::Input;
use crate::domain::Checked;
use crate::domain::FieldErrors;
use proptest::prelude::*;
use serde_json::Map;
use serde_json::Value;
use serde_json::json;
use std::sync::OnceLock;

/// What a parser said, for any parser's answer type.
trait Outcome {
    fn errors(&self) -> Option<&FieldErrors>;
}

impl<T> Outcome for Result<T, FieldErrors> {
    fn errors(&self) -> Option<&FieldErrors> {
        self.as_ref().err()
    }
}

impl<T> Outcome for Checked<T> {
    fn errors(&self) -> Option<&FieldErrors> {
        (!self.errors.is_empty()).then_some(&self.errors)
    }
}

/// The served document.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::to_value(crate::api::openapi::document::document())
            .expect("the document serializes")
    })
}

/// A validator for the component `name`, formats asserted.
fn validator(name: &str) -> jsonschema::Validator {
    let mut root = document().clone();
    root["$ref"] = json!(format!("#/components/schemas/{name}"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .expect("the document's schemas compile")
}

/// Rules no JSON Schema states: `(body type, field, reason)`.
fn cannot_state(name: &str, errors: &FieldErrors) -> bool {
    const RULES: &[(&str, &str, &str)] = &[
        ("DiscountBody", "endsAt", "must be after startsAt"),
        ("DiscountPatchBody", "endsAt", "must be after startsAt"),
        (
            "CategoryCreate",
            "parentId",
            "a category cannot be its own parent",
        ),
    ];
    errors.as_slice().iter().all(|e| {
        RULES
            .iter()
            .any(|(n, f, r)| *n == name && e.field == *f && e.reason == *r)
    })
}

// ---- values --------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .,'-]{0,12}",
        "\\PC{0,12}",
        Just(String::new()),
        Just(" ".into()),
        Just("\u{a0}\u{3000}".into()),
        Just("a\u{0}b".into()),
        Just("line\nbreak".into()),
        Just("tab\there".into()),
        Just(" padded ".into()),
        Just("\u{85}x".into()),
        Just("\u{feff}".into()),
        (0usize..5).prop_map(|k| "x".repeat([16, 64, 100, 200, 2048][k])),
        (0usize..5).prop_map(|k| "é".repeat([17, 65, 101, 201, 2049][k])),
        any::<String>(),
    ]
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => ("[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}", "[a-z0-9]{1,8}", "[a-z]{2,4}")
            .prop_map(|(l, d, t)| format!("{l}@{d}.{t}")),
        1 => ("[a-z]{1,30}", "[a-z]{1,30}").prop_map(|(a, b)| format!("{a}.{b}@x.example")),
        1 => Just("a@b".into()),
        1 => Just("A@B.C".into()),
        1 => Just(" ada@example.com ".into()),
        1 => Just("a..b@x.io".into()),
        1 => Just(format!("{}@x.io", "l".repeat(64))),
        1 => Just(format!("{}@x.io", "l".repeat(65))),
        1 => Just(format!("{}.{}@x.io", "l".repeat(31), "m".repeat(32))),
        1 => Just(format!("a@{}.io", "d".repeat(64))),
        1 => Just("a@-x.io".into()),
        1 => Just("\"a b\"@x.io".into()),
        1 => text(),
    ]
}

fn phone() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9 +().-]{0,34}",
        "\\+[0-9]{1,3} [0-9]{2,4} [0-9]{3,8}",
        Just("12345".into()),
        Just("1234".into()),
        Just(" 12345 ".into()),
        text(),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,64}",
        Just("x".repeat(65)),
        Just("a b".into()),
        Just(String::new()),
        text(),
    ]
}

fn code() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9_-]{1,34}", Just(" save10 ".into()), text()]
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        (1000u32..9000, 1u32..13, 1u32..29, 0u32..24, 0u32..60)
            .prop_map(|(y, mo, d, h, mi)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:07Z")),
        Just("2024-05-01T12:00:00.250+02:00".into()),
        Just("2024-05-01t12:00:00z".into()),
        Just("2016-12-31T23:59:60Z".into()),
        Just("2024-05-01T12:00:00.123456789-23:59".into()),
        Just("0000-01-01T00:00:00Z".into()),
        Just("0001-01-01T00:00:00+01:00".into()),
        Just("1000-01-01T00:00:00+23:59".into()),
        Just("8999-12-31T23:59:59-23:59".into()),
        Just("9999-12-31T23:59:59-01:00".into()),
        Just("2024-02-30T00:00:00Z".into()),
        Just("2024-05-01 12:00:00Z".into()),
        text(),
    ]
}

fn string(s: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    s.prop_map(Value::String)
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2i64..120).prop_map(Value::from),
        (0u32..120).prop_map(|n| json!(n as f64)),
        (0u64..1_000_000_000).prop_map(|c| json!(c as f64 / 100.0)),
        (0u64..10_000).prop_map(|c| json!(c as f64 / 1000.0)),
        Just(json!(0.5)),
        Just(json!(1.005)),
        Just(json!(9_999_999.99)),
        Just(json!(10_000_000)),
        Just(json!(1_000_000_000)),
        Just(json!(1_000_000_001)),
        Just(json!(4_294_967_296u64)),
        Just(json!(1e300)),
        Just(json!(-0.0)),
    ]
}

fn flag() -> impl Strategy<Value = Value> {
    prop_oneof![any::<bool>().prop_map(Value::Bool), Just(json!("true"))]
}

fn one_of_names(names: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::sample::select(names).prop_map(|s| json!(s)),
        1 => string(text()),
    ]
}

fn list(item: BoxedStrategy<Value>, max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::collection::vec(item.clone(), 0..4).prop_map(Value::Array),
        // Repeats, and one over the limit.
        1 => item.clone().prop_map(|v| json!([v.clone(), v])),
        1 => proptest::collection::vec(item, max + 1..max + 2).prop_map(Value::Array),
    ]
}

fn address() -> impl Strategy<Value = Value> {
    body(&["name", "line1", "line2", "city", "postalCode", "country"]).prop_map(Value::Object)
}

/// Values of the kind the field `name` takes, within its bounds (a body of
/// these is one the document allows), written every way JSON allows.
fn good(name: &str) -> BoxedStrategy<Value> {
    let whole = |lo: u64, hi: u64| {
        prop_oneof![
            (lo..=hi).prop_map(Value::from),
            (lo..=hi).prop_map(|n| json!(n as f64)),
        ]
        .boxed()
    };
    let cents = |hi: u64| (0..=hi).prop_map(|c| json!(c as f64 / 100.0)).boxed();
    let line = || {
        prop_oneof![
            "[a-zA-Z0-9][a-zA-Z0-9 .,'-]{0,11}",
            "[^\\p{C}\\s]\\PC{0,8}",
            Just(" padded ".into()),
            Just("é".repeat(16)),
        ]
    };
    match name {
        "email" | "to" => string("[a-z0-9._%+-]{1,10}@[a-z0-9]{1,8}\\.[a-z]{2,4}").boxed(),
        "phone" => string("\\+?[0-9]{2,3}[ -]?[0-9]{3,4}[ -]?[0-9]{3,4}").boxed(),
        "password" | "newPassword" | "currentPassword" => string("\\PC{8,20}").boxed(),
        "token" | "refreshToken" => string("[A-Za-z0-9_-]{43}").boxed(),
        "id" | "productId" | "addressId" | "userId" | "brandId" | "parentId" => {
            string("[A-Za-z0-9_-]{1,64}").boxed()
        }
        "code" | "discountCode" => string("[A-Za-z0-9_-]{3,32}").boxed(),
        "country" => one_of_names(&["DE", "gb", "Fr"]).boxed(),
        "role" => one_of_names(&["staff", "admin"]).boxed(),
        "paymentMethod" => one_of_names(&["card", "bank_transfer", "cash_on_delivery"]).boxed(),
        "status" => one_of_names(&["pending", "paid", "shipped", "completed", "cancelled"]).boxed(),
        "type" => one_of_names(&["percent", "fixed"]).boxed(),
        "startsAt" | "endsAt" => string(timestamp()).boxed(),
        "quantity" => whole(1, 99),
        "rating" => whole(1, 5),
        "stock" => whole(0, 1_000_000_000),
        "usageLimit" | "perCustomerLimit" => whole(1, 1_000_000_000),
        "price" | "minOrder" => cents(999_999_999),
        "value" => prop_oneof![whole(1, 100), cents(999_999_999)].boxed(),
        "discount" => (0u32..=100).prop_map(|n| json!(n as f64 / 100.0)).boxed(),
        "banned" | "active" | "isDefault" | "isPhysical" | "isAvailable" | "isFeatured" => {
            any::<bool>().prop_map(Value::Bool).boxed()
        }
        "images" | "keywords" => proptest::collection::vec(string(line()), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        "categoryIds" => proptest::collection::btree_set("[a-z0-9-]{1,12}", 0..4)
            .prop_map(|s| json!(s.into_iter().collect::<Vec<_>>()))
            .boxed(),
        "shippingAddress" => address().boxed(),
        "groups" => proptest::collection::vec(
            proptest::collection::vec(string("[a-zA-Z0-9]{1,8}"), 2..5).prop_map(Value::Array),
            0..3,
        )
        .prop_map(Value::Array)
        .boxed(),
        "description" | "text" | "subject" | "message" => string(prop_oneof![
            "\\PC{0,30}",
            Just("two\nlines\tand tab".into())
        ])
        .boxed(),
        _ => string(line()).boxed(),
    }
}

/// Values near the field's kind that may break it: blank, control
/// characters, lengths past the limit, the other type, `null`.
fn edge(name: &str) -> BoxedStrategy<Value> {
    let kind: BoxedStrategy<Value> = match name {
        "email" | "to" => string(email()).boxed(),
        "phone" => string(phone()).boxed(),
        "password" | "newPassword" | "currentPassword" | "token" | "refreshToken" => {
            string(prop_oneof![
                text(),
                Just("p".repeat(513)),
                Just("é".repeat(300))
            ])
            .boxed()
        }
        "id" | "productId" | "addressId" | "userId" | "brandId" | "parentId" => {
            string(id()).boxed()
        }
        "code" | "discountCode" => string(code()).boxed(),
        "country" => one_of_names(&["G1", "DEU", " de "]).boxed(),
        "role" => one_of_names(&["customer", "root"]).boxed(),
        "startsAt" | "endsAt" => string(timestamp()).boxed(),
        "images" => list(string(text()).boxed(), 20).boxed(),
        "keywords" => list(string(text()).boxed(), 50).boxed(),
        "categoryIds" => list(string(id()).boxed(), 10).boxed(),
        "groups" => list(
            list(
                string(prop_oneof![
                    "[a-z0-9]{1,8}",
                    Just("two words".into()),
                    text()
                ])
                .boxed(),
                20,
            )
            .boxed(),
            3,
        )
        .boxed(),
        _ => prop_oneof![number(), flag(), string(text())].boxed(),
    };
    prop_oneof![4 => kind, 1 => Just(Value::Null), 1 => number()].boxed()
}

/// A value for the field `name`: mostly one it takes, sometimes an edge.
fn value(name: &str) -> BoxedStrategy<Value> {
    prop_oneof![6 => good(name), 1 => edge(name)].boxed()
}

/// An object with some of `fields`.
fn body(fields: &[&'static str]) -> impl Strategy<Value = Map<String, Value>> + use<> {
    let parts: Vec<_> = fields
        .iter()
        .map(|&f| proptest::option::weighted(0.75, value(f)).prop_map(move |v| (f, v)))
        .collect();
    parts.prop_map(|parts| {
        parts
            .into_iter()
            .filter_map(|(f, v)| v.map(|v| (f.to_string(), v)))
            .collect()
    })
}

// ---- the property --------------------------------------------------------

/// The body types, their field names, and a check of one body.
type Check = fn(&Map<String, Value>) -> Option<FieldErrors>;

fn check<T: Input>(body: &Map<String, Value>) -> Option<FieldErrors>
where
    T::Parsed: Outcome,
{
    T::parse(body).errors().cloned()
}

fn body_types() -> Vec<(&'static str, &'static [&'static str], Check)> {
    use crate::api::dto::{accounts as a, catalog as c, discounts as d, jobs as j};
    use crate::api::dto::{orders as o, profile as p};
    const PRODUCT: &[&str] = &[
        "id",
        "title",
        "description",
        "images",
        "keywords",
        "price",
        "discount",
        "stock",
        "isPhysical",
        "isAvailable",
        "isFeatured",
        "brandId",
        "categoryIds",
    ];
    const ADDRESS: &[&str] = &[
        "name",
        "line1",
        "line2",
        "city",
        "postalCode",
        "country",
        "isDefault",
    ];
    const TERMS: &[&str] = &[
        "type",
        "value",
        "startsAt",
        "endsAt",
        "minOrder",
        "usageLimit",
        "perCustomerLimit",
        "active",
    ];
    vec![
        ("ProductCreate", PRODUCT, check::<c::ProductCreate>),
        ("ProductPatch", &PRODUCT[1..], check::<c::ProductPatch>),
        (
            "ReviewCreate",
            &["id", "userId", "rating", "text"],
            check::<c::ReviewCreate>,
        ),
        (
            "BrandCreate",
            &["id", "title", "description", "logo"],
            check::<c::BrandCreate>,
        ),
        (
            "BrandPatch",
            &["title", "description", "logo"],
            check::<c::BrandPatch>,
        ),
        (
            "CategoryCreate",
            &["id", "title", "description", "parentId"],
            check::<c::CategoryCreate>,
        ),
        (
            "CategoryPatch",
            &["title", "description", "parentId"],
            check::<c::CategoryPatch>,
        ),
        ("SynonymGroups", &["groups"], check::<c::SynonymGroups>),
        (
            "MediaPatch",
            &["alt"],
            check::<crate::api::dto::media::MediaPatch>,
        ),
        ("NewAddressBody", ADDRESS, check::<p::NewAddressBody>),
        ("AddressPatchBody", ADDRESS, check::<p::AddressPatchBody>),
        ("WishBody", &["productId"], check::<p::WishBody>),
        (
            "TestMail",
            &["to", "subject", "message"],
            check::<j::TestMail>,
        ),
        (
            "RegisterBody",
            &["email", "password", "name", "phone"],
            check::<a::RegisterBody>,
        ),
        ("LoginBody", &["email", "password"], check::<a::LoginBody>),
        ("RefreshBody", &["refreshToken"], check::<a::RefreshBody>),
        ("ResetRequestBody", &["email"], check::<a::ResetRequestBody>),
        (
            "ResetConfirmBody",
            &["token", "password"],
            check::<a::ResetConfirmBody>,
        ),
        ("VerifyBody", &["token"], check::<a::VerifyBody>),
        ("ProfileBody", &["name", "phone"], check::<a::ProfileBody>),
        (
            "PasswordBody",
            &["currentPassword", "newPassword"],
            check::<a::PasswordBody>,
        ),
        (
            "UserAdminBody",
            &["role", "banned"],
            check::<a::UserAdminBody>,
        ),
        ("ApiKeyBody", &["name", "role"], check::<a::ApiKeyBody>),
        (
            "CartItemBody",
            &["productId", "quantity"],
            check::<o::CartItemBody>,
        ),
        ("QuantityBody", &["quantity"], check::<o::QuantityBody>),
        (
            "CheckoutBody",
            &[
                "email",
                "shippingAddress",
                "addressId",
                "paymentMethod",
                "discountCode",
            ],
            check::<o::CheckoutBody>,
        ),
        ("StatusBody", &["status"], check::<o::StatusBody>),
        (
            "DiscountBody",
            &[
                "code",
                "type",
                "value",
                "startsAt",
                "endsAt",
                "minOrder",
                "usageLimit",
                "perCustomerLimit",
                "active",
            ],
            check::<d::DiscountBody>,
        ),
        ("DiscountPatchBody", TERMS, check::<d::DiscountPatchBody>),
    ]
}

/// Index into [`body_types`] and a body of that type's fields.
fn typed_body() -> impl Strategy<Value = (usize, Map<String, Value>)> {
    let n = body_types().len();
    (0..n).prop_flat_map(|i| (Just(i), body(body_types()[i].1)))
}

/// One validator per body type, built once.
fn validators() -> &'static Vec<jsonschema::Validator> {
    static V: OnceLock<Vec<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| body_types().iter().map(|(n, _, _)| validator(n)).collect())
}

proptest! {
    #![proptest_config(super::fuzz::config())]

    #[test]
    fn every_body_the_document_allows_its_parser_takes((i, body) in typed_body()) {
        let (name, _, parse) = body_types()[i];
        let value = Value::Object(body.clone());
        if validators()[i].is_valid(&value)
            && let Some(errors) = parse(&body)
        {
            prop_assert!(
                cannot_state(name, &errors),
                "{name}: the document allows {value} but the parser refuses it: {errors}"
            );
        }
    }
}

/// Each body type is listed above: a new one gets the same check.
#[test]
fn every_request_body_of_the_document_is_checked() {
    let listed: Vec<&str> = body_types().iter().map(|(n, _, _)| *n).collect();
    let doc = document();
    let mut missing = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let Some(schema) = op.pointer("/requestBody/content/application~1json/schema/$ref")
            else {
                continue;
            };
            let name = schema
                .as_str()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            // The webhook's body is checked by its signature, not a parser.
            if name != "PaymentEventBody" && !listed.contains(&name) {
                missing.push(name.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "bodies the property does not cover: {missing:?}"
    );
}

/// The examples the document shows are valid and taken.
#[test]
fn the_documents_examples_parse() {
    let doc = document();
    for (i, (name, _, parse)) in body_types().into_iter().enumerate() {
        let mut examples: Vec<Value> = Vec::new();
        let mut collect = |schema: &Value| {
            if let Some(e) = schema["examples"].as_array() {
                examples.extend(e.iter().cloned());
            }
        };
        let schema = &doc["components"]["schemas"][name];
        collect(schema);
        for branch in schema["oneOf"].as_array().into_iter().flatten() {
            if let Some(r) = branch["$ref"].as_str() {
                collect(
                    &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
                );
            }
        }
        for e in examples {
            assert!(
                validators()[i].is_valid(&e),
                "{name}: the example {e} breaks its schema"
            );
            let errors = parse(e.as_object().unwrap());
            assert!(
                errors.is_none(),
                "{name}: the example {e} is refused: {errors:?}"
            );
        }
    }
}

/// Every `pattern` in the document is one of `patterns::ALL`: the copies
/// the derives spell out cannot drift.
#[test]
fn every_pattern_is_a_known_one() {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(p)) = m.get("pattern") {
                    out.push(p.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(document(), &mut found);
    assert!(!found.is_empty());
    for p in found {
        assert!(
            crate::api::dto::patterns::ALL.contains(&p.as_str()),
            "an unknown pattern: {p}"
        );
    }
}
