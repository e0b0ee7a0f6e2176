//! Checkout, orders and discount codes the Postgres design's way: the cart
//! from Redis, then one PostgreSQL transaction that takes the stock with a
//! conditional `UPDATE … WHERE stock >= $n` per line, counts the code's use
//! under a row lock, inserts the order, its lines and history, the
//! idempotency key and the mail job, and commits. Tables: `schema.sql`.
//!
//! Checks, in shopd's order (so one request gets one answer from both):
//! 1. the idempotency key: the same key and body replay the order, another
//!    body is a 422;
//! 2. an empty or unknown cart: 409 `cart_empty`; then a guest without an
//!    email: 422;
//! 3. every line priced with shopd's [`price`] on the products as read now;
//!    any blocking problem: 409 `out_of_stock` listing every blocking line
//!    (also when a concurrent checkout took the stock between that read and
//!    the UPDATE: 0 rows, roll back, read again);
//! 4. a guest's `addressId` (a guest has no saved addresses): 404;
//! 5. the discount code, with its row locked: `discount_code_invalid`, 404
//!    for an unknown code and 409 for one that cannot apply.
//!
//! Every refusal is shopd's own `OrdersError` turned into its `ApiError`,
//! so status, code and message are the same by construction.
//!
//! Money comes from shopd's [`Totals::compute`] and [`DiscountCode::amount_off`],
//! so both designs charge the same cents.

use crate::carts::Carts;
use crate::db::{Db, Param, Sql, internal, internal_msg, timestamp, to_offset};
use deadpool_postgres::GenericClient;
use shopd::api::error::ApiError;
use shopd::domain::account::Email;
use shopd::domain::address;
use shopd::domain::cart::{Cart, LineProblem, PricedCart, price};
use shopd::domain::checkout::BlockedLine;
use shopd::domain::discount::{CodeRejection, DiscountCode, DiscountDraft, DiscountKind};
use shopd::domain::order::{
    Charges, CheckoutRequest, Order, OrderLine, OrderStatus, PaymentMethod, ShipTo, Totals,
    Transition,
};
use shopd::domain::{Discount, FieldErrors, Id, Price, Product, Timestamp};
use shopd::orders::OrdersError;
use std::collections::HashMap;
use tokio_postgres::Row;

/// How long a checkout's idempotency key is remembered (shopd's).
const KEY_TTL_MS: i64 = shopd::orders::IDEMPOTENCY_TTL_MS;

/// shopd's error answer for `e` (same status, code and message).
fn refuse(e: OrdersError) -> ApiError {
    ApiError::from(e)
}

fn field(name: &str, reason: &str) -> ApiError {
    let mut e = FieldErrors::new();
    e.push(name, reason);
    ApiError::validation(e)
}

/// One checkout's input, checked by the route.
pub struct Checkout {
    /// Whose idempotency keys: `g:<cart token>` for a guest.
    pub caller: String,
    pub key: String,
    /// Identifies the request body (SHA-256 of its canonical JSON).
    pub fingerprint: String,
    pub request: CheckoutRequest,
    /// `None`: the guest sent none (refused after the cart checks).
    pub email: Option<Email>,
    pub token: String,
}

/// What a checkout made.
pub struct Placed {
    pub order: Order,
    /// `true`: an earlier request with the same key made it.
    pub replayed: bool,
}

const PRODUCTS_FOR_CART: &str = r#"
SELECT id, title, price, discount, stock, "isAvailable" FROM "Product" WHERE id = ANY($1)"#;

const TAKE_STOCK: &str = r#"
UPDATE "Product" SET stock = stock - $2 WHERE id = $1 AND stock >= $2 AND "isAvailable""#;

const KEY_LOOKUP: &str = r#"
SELECT "requestHash", "orderId" FROM "IdempotencyKey"
WHERE caller = $1 AND key = $2 AND "expiresAt" > now()"#;

const CODE_FOR_UPDATE: &str = r#"
SELECT code, type, value, "startsAt", "endsAt", "minOrder", "usageLimit", "perCustomerLimit",
       used, active, "createdAt", "updatedAt"
FROM "DiscountCode" WHERE code = $1 FOR UPDATE"#;

const CUSTOMER_USES: &str = r#"
SELECT count(*) FROM "DiscountUse" WHERE code = $1 AND "customerKey" = $2"#;

const COUNT_USE: &str = r#"UPDATE "DiscountCode" SET used = used + 1 WHERE code = $1"#;

const INSERT_USE: &str = r#"INSERT INTO "DiscountUse" (code, "customerKey", "orderId", "createdAt") VALUES ($1, $2, $3, $4)"#;

const INSERT_ORDER: &str = r#"
INSERT INTO "Order" (id, "userId", email, status, "isPaid", "paidAt", "paymentMethod",
                     "shippingAddress", subtotal, discount, shipping, tax, total, "discountCode",
                     "refundDue", "createdAt", "updatedAt")
VALUES ($1, NULL, $2, 'pending', false, NULL, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, false, $11, $11)
RETURNING number"#;

const INSERT_LINES: &str = r#"
INSERT INTO "OrderLine" ("orderId", position, "productId", title, "unitPrice", quantity)
SELECT $1, (t.n - 1)::smallint, t.p, t.title, t.price, t.q
FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[]) WITH ORDINALITY AS t(p, title, price, q, n)"#;

const INSERT_HISTORY: &str = r#"
INSERT INTO "OrderStatusHistory" ("orderId", position, status, "by", at) VALUES ($1, 0, $2, $3, $4)"#;

const INSERT_KEY: &str = r#"
INSERT INTO "IdempotencyKey" (caller, key, "requestHash", "orderId", "createdAt", "expiresAt")
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"#;

const INSERT_MAIL_JOB: &str = r#"
INSERT INTO "Job" (queue, payload) VALUES ('mail', jsonb_build_object(
  'template', 'order_confirmation', 'orderId', $1::text, 'to', $2::text))"#;

const ORDER_BY_ID: &str = r#"
SELECT id, number, email, status, "paidAt", "paymentMethod", "shippingAddress"::text, subtotal, discount,
       shipping, tax, total, "discountCode", "refundDue", "createdAt", "updatedAt"
FROM "Order" WHERE id = $1"#;

const LINES_OF: &str = r#"
SELECT "productId", title, "unitPrice", quantity FROM "OrderLine" WHERE "orderId" = $1 ORDER BY position"#;

const HISTORY_OF: &str = r#"
SELECT status, "by", at FROM "OrderStatusHistory" WHERE "orderId" = $1 ORDER BY position"#;

const INSERT_CODE: &str = r#"
INSERT INTO "DiscountCode" (code, type, value, "startsAt", "endsAt", "minOrder", "usageLimit",
                            "perCustomerLimit", used, active, "createdAt", "updatedAt")
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10)
ON CONFLICT (code) DO NOTHING"#;

fn get<'r, T: tokio_postgres::types::FromSql<'r>>(r: &'r Row, name: &str) -> Result<T, ApiError> {
    r.try_get(name).map_err(|e| internal(e, name))
}

fn cents(v: i64) -> u64 {
    v.max(0) as u64
}

/// The products of `cart` as checkout and the cart view need them (title,
/// price, discount, stock, availability; the other fields are not read by
/// [`price`]), by id.
pub async fn cart_products<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    cart: &Cart,
) -> Result<HashMap<String, Product>, ApiError> {
    let ids: Vec<&str> = cart.lines.iter().map(|l| l.product_id.as_str()).collect();
    products(sql, &ids).await
}

/// [`cart_products`] for any ids.
pub async fn products<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    ids: &[&str],
) -> Result<HashMap<String, Product>, ApiError> {
    let rows = sql.query(PRODUCTS_FOR_CART, &[&ids]).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: String = get(r, "id")?;
        let pid = Id::parse(&id).map_err(|e| internal_msg(e, "a stored product id"))?;
        let p = Product {
            id: pid.clone(),
            title: get(r, "title")?,
            description: String::new(),
            images: Vec::new(),
            keywords: Vec::new(),
            price: Price::from_cents(cents(get(r, "price")?))
                .map_err(|e| internal_msg(e, "a stored price"))?,
            discount: Discount::new(get(r, "discount")?)
                .map_err(|e| internal_msg(e, "a stored discount"))?,
            stock: get::<i32>(r, "stock")?.max(0) as u32,
            is_physical: true,
            is_available: get(r, "isAvailable")?,
            is_featured: false,
            brand_id: pid,
            category_ids: Vec::new(),
            created_at: Timestamp::from_millis(0).expect("0 is a valid timestamp"),
            updated_at: Timestamp::from_millis(0).expect("0 is a valid timestamp"),
        };
        out.insert(id, p);
    }
    Ok(out)
}

/// `cart` priced on the products as they are now.
pub async fn price_cart(db: &Db, cart: &Cart) -> Result<PricedCart, ApiError> {
    let client = db.conn().await?;
    let products = cart_products(&db.sql(&client), cart).await?;
    Ok(price(cart, |id| products.get(id).cloned()))
}

fn blocked(priced: &PricedCart) -> Vec<BlockedLine> {
    priced
        .lines
        .iter()
        .filter_map(|l| {
            l.blocked().map(|problem| BlockedLine {
                product_id: l.product_id.as_str().to_string(),
                problem,
                requested: l.quantity,
                available: l.stock,
            })
        })
        .collect()
}

/// `POST /checkout`.
pub async fn checkout(
    db: &Db,
    carts: &Carts,
    charges: Charges,
    c: Checkout,
) -> Result<Placed, ApiError> {
    let mut client = db.conn().await?;
    // 1. The key.
    if let Some(placed) = replay(db, &client, &c).await? {
        return Ok(placed);
    }
    // 2. The cart.
    let cart = carts
        .load(&c.token)
        .await?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refuse(OrdersError::CartEmpty))?;
    let email = c
        .email
        .clone()
        .ok_or_else(|| refuse(OrdersError::guest_email_required()))?;
    // 3. The lines, as the products are now.
    let products = cart_products(&db.sql(&client), &cart).await?;
    let priced = price(&cart, |id| products.get(id).cloned());
    let refused = blocked(&priced);
    if !refused.is_empty() {
        return Err(refuse(OrdersError::OutOfStock(refused)));
    }
    let address = match &c.request.ship_to {
        ShipTo::Address(a) => a.clone(),
        // A guest has no saved addresses.
        ShipTo::Saved(id) => {
            return Err(refuse(OrdersError::NotFound(format!(
                "no saved address '{id}' (addressId)"
            ))));
        }
    };
    let now = Timestamp::now();
    db.metrics().statement();
    let tx = client
        .transaction()
        .await
        .map_err(|e| internal(e, "BEGIN"))?;
    let sql = db.sql(&tx);
    // Stock, in product-id order so two multi-line checkouts lock rows in
    // the same order (no deadlock).
    let mut by_id: Vec<_> = priced.lines.iter().collect();
    by_id.sort_by(|a, b| a.product_id.as_str().cmp(b.product_id.as_str()));
    for l in by_id {
        let n = l.quantity as i32;
        if sql
            .execute(TAKE_STOCK, &[&l.product_id.as_str(), &n])
            .await?
            == 0
        {
            // A concurrent checkout took it since the read: roll back and
            // say what is missing now.
            drop(tx);
            let products = cart_products(&db.sql(&client), &cart).await?;
            let mut refused = blocked(&price(&cart, |id| products.get(id).cloned()));
            if refused.is_empty() {
                // Back in stock since the UPDATE: still this attempt failed.
                refused.push(BlockedLine {
                    product_id: l.product_id.as_str().to_string(),
                    problem: LineProblem::InsufficientStock,
                    requested: l.quantity,
                    available: products.get(l.product_id.as_str()).map_or(0, |p| p.stock),
                });
            }
            return Err(refuse(OrdersError::OutOfStock(refused)));
        }
    }
    // 4. The code, locked until the commit so its limits hold. A guest is
    // known by its email (shopd's customer key).
    let customer = format!("email:{}", email.as_str());
    let mut discount = 0;
    if let Some(code) = &c.request.discount_code {
        let invalid = |r| refuse(OrdersError::DiscountInvalid(r));
        let row = sql
            .query_opt(CODE_FOR_UPDATE, &[code])
            .await?
            .ok_or_else(|| invalid(CodeRejection::Unknown))?;
        let d = discount_code(&row)?;
        let uses: i64 = get(
            &sql.query_one(CUSTOMER_USES, &[code, &customer]).await?,
            "count",
        )?;
        discount = d
            .amount_off(priced.subtotal_cents, now, uses.max(0) as u32)
            .map_err(invalid)?;
    }
    let totals = Totals::compute(priced.subtotal_cents, discount, charges);
    let id = Id::generate("ord");
    let address_json = serde_json::to_string(&address).map_err(|e| internal(e, "an address"))?;
    let at = to_offset(now);
    let money = |x: u64| x as i64;
    let number: i64 = get(
        &sql.query_one(
            INSERT_ORDER,
            &[
                &id.as_str(),
                &email.as_str(),
                &c.request.payment_method.as_str(),
                &address_json,
                &money(totals.subtotal),
                &money(totals.discount),
                &money(totals.shipping),
                &money(totals.tax),
                &money(totals.total),
                &c.request.discount_code,
                &at,
            ],
        )
        .await?,
        "number",
    )?;
    let lines: Vec<OrderLine> = priced
        .lines
        .iter()
        .map(|l| OrderLine {
            product_id: l.product_id.clone(),
            title: l.title.clone().unwrap_or_default(),
            unit_price_cents: l.unit_price_cents,
            quantity: l.quantity,
        })
        .collect();
    let ids: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
    let titles: Vec<&str> = lines.iter().map(|l| l.title.as_str()).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.unit_price_cents as i64).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity as i32).collect();
    sql.execute(
        INSERT_LINES,
        &[&id.as_str(), &ids, &titles, &prices, &quantities],
    )
    .await?;
    let history = Transition {
        status: OrderStatus::Pending,
        by: "customer".into(),
        at: now,
    };
    sql.execute(
        INSERT_HISTORY,
        &[&id.as_str(), &history.status.as_str(), &history.by, &at],
    )
    .await?;
    if let Some(code) = &c.request.discount_code {
        sql.execute(COUNT_USE, &[code]).await?;
        sql.execute(INSERT_USE, &[code, &customer, &id.as_str(), &at])
            .await?;
    }
    let expires = to_offset(
        Timestamp::from_millis(now.millis() + KEY_TTL_MS)
            .map_err(|e| internal_msg(e, "an idempotency key's expiry"))?,
    );
    if sql
        .execute(
            INSERT_KEY,
            &[
                &c.caller,
                &c.key,
                &c.fingerprint,
                &id.as_str(),
                &at,
                &expires,
            ],
        )
        .await?
        == 0
    {
        // The same key committed by a concurrent request since step 1:
        // undo this one and answer as that one did.
        drop(tx);
        return replay(db, &client, &c)
            .await?
            .ok_or_else(|| internal_msg("vanished", "an idempotency key"));
    }
    sql.execute(INSERT_MAIL_JOB, &[&id.as_str(), &email.as_str()])
        .await?;
    db.metrics().statement();
    tx.commit().await.map_err(|e| internal(e, "COMMIT"))?;
    carts.clear(&c.token).await;
    let order = Order {
        id,
        number: number.max(0) as u64,
        account_id: None,
        email,
        status: OrderStatus::Pending,
        paid_at: None,
        payment_method: c.request.payment_method,
        lines,
        address,
        totals,
        discount_code: c.request.discount_code,
        refund_due: false,
        history: vec![history],
        created_at: now,
        updated_at: now,
    };
    Ok(Placed {
        order,
        replayed: false,
    })
}

/// Step 1: the order an earlier request with this key made, or 422 when
/// that request's body differed.
async fn replay<C: GenericClient + Sync>(
    db: &Db,
    client: &C,
    c: &Checkout,
) -> Result<Option<Placed>, ApiError> {
    let sql = db.sql(client);
    let Some(row) = sql.query_opt(KEY_LOOKUP, &[&c.caller, &c.key]).await? else {
        return Ok(None);
    };
    let hash: String = get(&row, "requestHash")?;
    if hash != c.fingerprint {
        return Err(refuse(OrdersError::IdempotencyKeyReused));
    }
    let order_id: String = get(&row, "orderId")?;
    let order = load_order(db, client, &order_id)
        .await?
        .ok_or_else(|| internal_msg(&order_id, "the order of an idempotency key"))?;
    Ok(Some(Placed {
        order,
        replayed: true,
    }))
}

/// An order with its lines and history (three statements, pipelined).
pub async fn load_order<C: GenericClient + Sync>(
    db: &Db,
    client: &C,
    id: &str,
) -> Result<Option<Order>, ApiError> {
    let sql = db.sql(client);
    let by_id: &[Param] = &[&id];
    let (row, lines, history) = tokio::try_join!(
        sql.query_opt(ORDER_BY_ID, by_id),
        sql.query(LINES_OF, by_id),
        sql.query(HISTORY_OF, by_id),
    )?;
    let Some(r) = row else {
        return Ok(None);
    };
    fn bad(what: &'static str) -> impl Fn(String) -> ApiError {
        move |e| internal_msg(e, what)
    }
    let parse_id = |s: String| Id::parse(&s).map_err(bad("a stored id"));
    let address: serde_json::Value = serde_json::from_str(&get::<String>(&r, "shippingAddress")?)
        .map_err(|e| internal(e, "a stored address"))?;
    let status: String = get(&r, "status")?;
    let method: String = get(&r, "paymentMethod")?;
    let paid: Option<time::OffsetDateTime> = get(&r, "paidAt")?;
    let money = |name: &str| get::<i64>(&r, name).map(cents);
    Ok(Some(Order {
        id: parse_id(get(&r, "id")?)?,
        number: get::<i64>(&r, "number")?.max(0) as u64,
        account_id: None,
        email: Email::parse(&get::<String>(&r, "email")?).map_err(bad("a stored email"))?,
        status: OrderStatus::parse(&status).ok_or_else(|| internal_msg(&status, "a status"))?,
        paid_at: paid.map(timestamp).transpose()?,
        payment_method: PaymentMethod::parse(&method)
            .ok_or_else(|| internal_msg(&method, "a payment method"))?,
        lines: lines
            .iter()
            .map(|l| {
                Ok(OrderLine {
                    product_id: parse_id(get(l, "productId")?)?,
                    title: get(l, "title")?,
                    unit_price_cents: cents(get(l, "unitPrice")?),
                    quantity: get::<i32>(l, "quantity")?.max(0) as u32,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        address: address::parse_nested(&address, "shippingAddress")
            .map_err(|e| internal_msg(format!("{e:?}"), "a stored address"))?,
        totals: Totals {
            subtotal: money("subtotal")?,
            discount: money("discount")?,
            shipping: money("shipping")?,
            tax: money("tax")?,
            total: money("total")?,
        },
        discount_code: get(&r, "discountCode")?,
        refund_due: get(&r, "refundDue")?,
        history: history
            .iter()
            .map(|h| {
                let s: String = get(h, "status")?;
                Ok(Transition {
                    status: OrderStatus::parse(&s).ok_or_else(|| internal_msg(&s, "a status"))?,
                    by: get(h, "by")?,
                    at: timestamp(get(h, "at")?)?,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        created_at: timestamp(get(&r, "createdAt")?)?,
        updated_at: timestamp(get(&r, "updatedAt")?)?,
    }))
}

/// `GET /admin/orders/{id}`.
pub async fn order(db: &Db, id: &str) -> Result<Order, ApiError> {
    let client = db.conn().await?;
    load_order(db, &client, id)
        .await?
        .ok_or_else(|| refuse(OrdersError::NotFound(format!("no order {id}"))))
}

fn discount_code(r: &Row) -> Result<DiscountCode, ApiError> {
    let kind: String = get(r, "type")?;
    let value = cents(get(r, "value")?);
    let opt_ts = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        get::<Option<time::OffsetDateTime>>(r, name)?
            .map(timestamp)
            .transpose()
    };
    let limit = |name: &str| -> Result<Option<u32>, ApiError> {
        Ok(get::<Option<i32>>(r, name)?.map(|n| n.max(0) as u32))
    };
    Ok(DiscountCode {
        code: get(r, "code")?,
        kind: match kind.as_str() {
            "percent" => DiscountKind::Percent(value as u32),
            _ => DiscountKind::Fixed(value),
        },
        starts_at: opt_ts("startsAt")?,
        ends_at: opt_ts("endsAt")?,
        min_order_cents: cents(get(r, "minOrder")?),
        usage_limit: limit("usageLimit")?,
        per_customer_limit: limit("perCustomerLimit")?,
        used: get::<i32>(r, "used")?.max(0) as u32,
        active: get(r, "active")?,
        created_at: timestamp(get(r, "createdAt")?)?,
        updated_at: timestamp(get(r, "updatedAt")?)?,
    })
}

/// `POST /admin/discount-codes`: the new code, or 409 `duplicate_id` when
/// the code is taken.
pub async fn create_code(db: &Db, draft: DiscountDraft) -> Result<DiscountCode, ApiError> {
    let code = draft
        .create(Timestamp::now())
        .ok_or_else(|| field("code", "is required"))?;
    let (kind, value) = match code.kind {
        DiscountKind::Percent(p) => ("percent", p as i64),
        DiscountKind::Fixed(c) => ("fixed", c as i64),
    };
    let opt = |t: Option<Timestamp>| t.map(to_offset);
    let limit = |l: Option<u32>| l.map(|n| n as i32);
    let client = db.conn().await?;
    let n = db
        .sql(&client)
        .execute(
            INSERT_CODE,
            &[
                &code.code,
                &kind,
                &value,
                &opt(code.starts_at),
                &opt(code.ends_at),
                &(code.min_order_cents as i64),
                &limit(code.usage_limit),
                &limit(code.per_customer_limit),
                &code.active,
                &to_offset(code.created_at),
            ],
        )
        .await?;
    if n == 0 {
        return Err(refuse(OrdersError::Exists(code.code)));
    }
    Ok(code)
}
