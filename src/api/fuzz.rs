//! Property-based fuzzing of everything that reads untrusted bytes off the
//! HTTP edge (it lives in `api` because it drives the extractors): the
//! query-string extractors, the JSON body parsers of every write type, the
//! record decoder, the search query analyser and the webhook signature
//! check. Each target takes arbitrary (and near-valid) input and must
//! answer without panicking; the HTTP-facing ones must answer a client
//! error (4xx), never an internal one.
//!
//! proptest rather than cargo-fuzz: it builds on stable with the rest of
//! the tests and shrinks what it finds to a small case. `PROPTEST_CASES`
//! sets the cases per target (CI: the default below);
//! `benches/fuzz.sh SECONDS` runs each target for a bounded time. Every
//! crash found becomes a named regression test at the end of this file.

use crate::api::extract::query::Params;
use crate::domain::listing::{PageRequest, ProductQuery};
use crate::domain::search::SearchQuery;
use actix_web::FromRequest;
use actix_web::HttpRequest;
use proptest::prelude::*;
use serde_json::Map;
use serde_json::Value;

/// Cases per target unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 2048;

pub(crate) fn config() -> ProptestConfig {
    crate::domain::fuzzing::config(CASES)
}

// ---- query strings -------------------------------------------------------

/// Names the extractors know, and some they do not.
const QUERY_NAMES: &[&str] = &[
    "q",
    "page",
    "limit",
    "sort",
    "brand",
    "category",
    "isAvailable",
    "minPrice",
    "maxPrice",
    "status",
    "paid",
    "from",
    "to",
    "email",
    "role",
    "queue",
    "state",
    "token",
    "relaxed",
    "fuzzy",
    "highlight",
    "cursor",
    "x",
];

fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "-?[0-9]{0,25}(\\.[0-9]{0,6})?",
        Just("true".to_string()),
        Just("false".to_string()),
        Just("price_asc".to_string()),
        "[a-z0-9_-]{0,80}",
        "\\PC{0,300}",
    ]
}

/// A query string: encoded pairs of known and unknown names, and raw
/// fragments (bad percent escapes, `%FF`, repeated names).
pub(crate) fn query_string() -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![
            proptest::sample::select(QUERY_NAMES).prop_map(String::from),
            "[a-zA-Z]{1,8}"
        ],
        query_value(),
    )
        .prop_map(|(k, v)| {
            let enc = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            format!("{}={}", enc(&k), enc(&v))
        });
    let raw = "[a-zA-Z0-9%=&+._~-]{0,40}";
    proptest::collection::vec(prop_oneof![4 => pair, 1 => raw], 0..8).prop_map(|v| v.join("&"))
}

pub(crate) fn request(query: &str) -> HttpRequest {
    actix_web::test::TestRequest::with_uri(&format!("/fuzz?{query}")).to_http_request()
}

/// Runs extractor `T` on `req`: it must accept, or refuse with a 4xx.
pub(crate) fn extract<T: FromRequest>(req: &HttpRequest) -> Result<(), String>
where
    T::Error: Into<actix_web::Error>,
{
    let mut payload = actix_web::dev::Payload::None;
    let answer = futures_util::FutureExt::now_or_never(T::from_request(req, &mut payload))
        .ok_or_else(|| format!("{} did not answer at once", std::any::type_name::<T>()))?;
    match answer {
        Ok(_) => Ok(()),
        Err(e) => {
            let e: actix_web::Error = e.into();
            let status = e.as_response_error().status_code();
            if status.is_client_error() {
                Ok(())
            } else {
                Err(format!(
                    "{} answered {status}: {e}",
                    std::any::type_name::<T>()
                ))
            }
        }
    }
}

/// Every query extractor on one query string.
fn all_query_extractors(query: &str) -> Result<(), String> {
    let req = request(query);
    extract::<Params<ProductQuery>>(&req)?;
    extract::<Params<SearchQuery>>(&req)?;
    extract::<Params<PageRequest>>(&req)?;
    extract::<Params<crate::api::extract::jobs::JobsQuery>>(&req)?;
    extract::<Params<crate::api::extract::accounts::UsersQuery>>(&req)?;
    extract::<Params<crate::api::extract::orders::OrdersQuery>>(&req)?;
    Ok(())
}

// ---- JSON bodies ---------------------------------------------------------

/// Field names the write types read (and a few they do not).
const FIELD_NAMES: &[&str] = &[
    "id",
    "title",
    "description",
    "price",
    "compareAtPrice",
    "stock",
    "brandId",
    "categoryIds",
    "isAvailable",
    "isFeatured",
    "images",
    "attributes",
    "parentId",
    "logo",
    "userId",
    "rating",
    "text",
    "email",
    "password",
    "name",
    "phone",
    "refreshToken",
    "token",
    "newPassword",
    "currentPassword",
    "role",
    "banned",
    "scopes",
    "productId",
    "quantity",
    "addressId",
    "address",
    "shippingAddress",
    "line1",
    "city",
    "postalCode",
    "country",
    "discountCode",
    "code",
    "type",
    "value",
    "minSubtotal",
    "maxUses",
    "startsAt",
    "endsAt",
    "status",
    "note",
    "groups",
    "label",
    "isDefault",
    "to",
    "x",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (-1_000_000i64..1_000_000, 0u32..4)
            .prop_map(|(n, d)| { Value::from(n as f64 / 10f64.powi(d as i32)) }),
        any::<String>().prop_map(Value::String),
        "[a-z0-9-]{0,70}".prop_map(Value::String),
        "\\PC{0,600}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(FIELD_NAMES).prop_map(String::from),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body object: known field names with arbitrary values.
fn json_body() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(
        prop_oneof![
            6 => proptest::sample::select(FIELD_NAMES).prop_map(String::from),
            1 => any::<String>(),
        ],
        json_value(),
        0..10,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// Every write type's parser on one body (each must return, never panic).
fn all_body_parsers(body: &Map<String, Value>) {
    use crate::api::extract::body::Input;
    macro_rules! parse_all {
        ($($t:path),* $(,)?) => {$( let _ = <$t as Input>::parse(body); )*};
    }
    parse_all!(
        crate::api::dto::catalog::ProductCreate,
        crate::api::dto::catalog::ProductPatch,
        crate::api::dto::catalog::ReviewCreate,
        crate::api::dto::catalog::BrandCreate,
        crate::api::dto::catalog::BrandPatch,
        crate::api::dto::catalog::CategoryCreate,
        crate::api::dto::catalog::CategoryPatch,
        crate::api::dto::catalog::SynonymGroups,
        crate::api::dto::profile::NewAddressBody,
        crate::api::dto::profile::AddressPatchBody,
        crate::api::dto::profile::WishBody,
        crate::api::dto::jobs::TestMail,
        crate::api::dto::accounts::RegisterBody,
        crate::api::dto::accounts::LoginBody,
        crate::api::dto::accounts::RefreshBody,
        crate::api::dto::accounts::ResetRequestBody,
        crate::api::dto::accounts::ResetConfirmBody,
        crate::api::dto::accounts::VerifyBody,
        crate::api::dto::accounts::ProfileBody,
        crate::api::dto::accounts::PasswordBody,
        crate::api::dto::accounts::UserAdminBody,
        crate::api::dto::accounts::ApiKeyBody,
        crate::api::dto::orders::CartItemBody,
        crate::api::dto::orders::QuantityBody,
        crate::api::dto::orders::CheckoutBody,
        crate::api::dto::orders::StatusBody,
        crate::api::dto::discounts::DiscountBody,
        crate::api::dto::discounts::DiscountPatchBody,
    );
}

// ---- records -------------------------------------------------------------

/// Every record type's decoder on `bytes`: a value or an error, no panic.
fn all_record_decoders(bytes: &[u8]) {
    use crate::store::codec::decode;
    macro_rules! decode_all {
        ($($t:path),* $(,)?) => {$( let _ = decode::<$t>(bytes, "fuzz"); )*};
    }
    decode_all!(
        crate::store::catalog::records::BrandRec,
        crate::store::catalog::records::CategoryRec,
        crate::store::catalog::records::ProductRec,
        crate::store::catalog::records::ReviewRec,
        crate::store::catalog::records::ReviewerRec,
        crate::store::accounts::AccountRec,
        crate::store::accounts::SessionRec,
        crate::store::accounts::ApiKeyRec,
        crate::store::orders::CartRec,
        crate::store::orders::SavedAddressRec,
        crate::store::orders::OrderRec,
        crate::store::orders::DiscountRec,
        crate::store::orders::NotificationRec,
        crate::store::jobs::JobRec,
        crate::store::search_settings::SynonymsRec,
    );
}

/// A real product record's bytes (so that mutations land near valid ones).
fn product_bytes() -> Vec<u8> {
    use crate::domain::{Discount, Id, Price, Product, Timestamp};
    use crate::store::codec::Record;
    let p = Product {
        id: Id::parse("prod-1").unwrap(),
        title: "Walnut desk lamp".into(),
        description: "A lamp".into(),
        images: vec!["https://example.com/a.jpg".into()],
        keywords: vec!["lamp".into()],
        price: Price::from_cents(1999).unwrap(),
        discount: Discount::new(0.1).unwrap(),
        stock: 7,
        is_physical: true,
        is_available: true,
        is_featured: false,
        brand_id: Id::parse("brand-1").unwrap(),
        category_ids: vec![Id::parse("cat-1").unwrap()],
        created_at: Timestamp::from_millis(1_700_000_000_000).unwrap(),
        updated_at: Timestamp::from_millis(1_700_000_000_000).unwrap(),
    };
    crate::store::catalog::records::ProductRec::encode(&p)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn query_extractors_answer_every_query_string_with_ok_or_4xx(q in query_string()) {
        if let Err(e) = all_query_extractors(&q) {
            prop_assert!(false, "{} for ?{}", e, q);
        }
    }

    #[test]
    fn body_parsers_return_for_every_json_object(body in json_body()) {
        all_body_parsers(&body);
    }

    #[test]
    fn record_decoders_return_for_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_record_decoders(&bytes);
    }

    #[test]
    fn record_decoders_return_for_mutated_records(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = product_bytes();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        all_record_decoders(&bytes);
    }

    #[test]
    fn search_analyser_and_query_builder_take_any_text(
        text in prop_oneof![any::<String>(), "\\PC{0,400}", "([a-z]{1,12}[ ~*:+\"()-]{0,2}){0,12}"],
        groups in proptest::collection::vec(proptest::collection::vec("[a-z]{1,8}( [a-z]{1,8})?", 2..4), 0..3),
    ) {
        let synonyms = crate::domain::search::Synonyms { groups };
        let words = crate::search::query::words(&text, &synonyms);
        let (_, fields) = crate::search::schema::schema();
        let _ = crate::search::query::reference::build(&fields, &words, &Default::default(), false);
        let _ = crate::search::query::reference::build(&fields, &words, &Default::default(), true);
        // And through the search extractor, as `?q=` would bring it.
        let q = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC);
        if let Err(e) = extract::<Params<SearchQuery>>(&request(&format!("q={q}"))) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn webhook_signature_check_takes_any_header(
        header in prop_oneof![
            any::<String>(),
            "(t=-?[0-9]{0,22}|v1=[0-9a-f]{0,130}|[a-z0-9=]{0,10})(,(t=-?[0-9]{0,22}|v1=[0-9a-f]{0,130}|[a-z0-9=]{0,10})){0,4}",
        ],
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        let _ = crate::orders::payments::verify(b"secret", &header, &body, now);
    }

    #[test]
    fn a_signature_verifies_only_for_its_own_body_and_secret(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        t in -1_000_000_000_000i64..1_000_000_000_000,
        flip in any::<prop::sample::Index>(),
    ) {
        use crate::orders::payments::{sign, verify};
        let header = sign(b"secret", t, &body);
        prop_assert!(verify(b"secret", &header, &body, t).is_ok());
        prop_assert!(verify(b"other", &header, &body, t).is_err());
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 1;
            prop_assert!(verify(b"secret", &header, &changed, t).is_err());
        }
    }
}

// ---- regressions found by the targets above -------------------------------

/// `verify` computed `(now - t).abs()`: a header with `t` near `i64::MIN`
/// overflowed (a panic in debug builds, a wrapped "fresh" timestamp in
/// release). Found by `webhook_signature_check_takes_any_header`.
#[test]
fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
    use crate::orders::payments::{SignatureError, verify};
    let now = 1_800_000_000;
    for t in [i64::MIN, i64::MIN + 1, i64::MAX, -318_000_000_000_000_000] {
        let header = format!("t={t},v1={}", "00".repeat(32));
        assert!(
            matches!(
                verify(b"secret", &header, b"{}", now),
                Err(SignatureError::Stale)
            ),
            "{t}"
        );
        assert!(verify(b"secret", &header, b"{}", i64::MAX).is_err());
    }
}
