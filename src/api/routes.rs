//! The route table: every route shopd serves, declared once.
//!
//! Each [`Route`] names its method, path pattern, handler, HTTP cache class
//! ([`CacheClass`]: both `Cache-Control` and the response cache's TTL follow
//! it), who may call it ([`Access`]), its rate-limit class
//! ([`RateLimit`]) and its OpenAPI operation ([`Doc`]). Everything else reads
//! [`ROUTES`]: the actix registration ([`super::register::configure`], with the JSON 405
//! for a wrong method on a known path and the access check of each route), the
//! metrics label and the `Cache-Control` of a path ([`label`], [`cache_class`]),
//! the OpenAPI document ([`super::openapi::document`]) and the role-matrix test. Nothing
//! else may list routes.
//!
//! Matching a path against the table splits it on `/` and compares segments
//! with each pattern (a `{name}` segment matches any non-empty segment, like
//! actix's default). It allocates nothing and runs no regex: the metrics and
//! caching middleware call it on every request.

use crate::api::handlers::{
    accounts, bench, brands, cart, categories, discounts, docs, jobs, media, metrics, orders,
    probes, products, profile, replication, search,
};
use crate::api::openapi::describe::Answer;
use crate::api::openapi::schemas as s;
use crate::api::route::{
    Access, MAX_SEGMENTS, RateLimit, Route, Verb, delete, get, handler, patch, post, put,
    segment_matches,
};
use crate::config::cache::CacheClass;
use actix_web::http::Method;
use std::sync::LazyLock;

use Answer::{Empty, Image, Json, Probe, Text};

/// Every route. Routes sharing a pattern are one actix resource; a method
/// not listed for a known pattern answers 405.
pub static ROUTES: &[Route] = &[
    // Probes, metrics, the contract and its pages.
    get("/health", handler!(probes::health))
        .rate(RateLimit::None)
        .doc(
            "probes",
            "health",
            "The process is up",
            Json(200, s::health),
        ),
    get("/ready", handler!(probes::ready))
        .rate(RateLimit::None)
        .doc(
            "probes",
            "ready",
            "Storage answers reads and search can answer queries (503 with the reasons otherwise)",
            Probe(s::readiness),
        ),
    get("/metrics", handler!(metrics::metrics))
        .rate(RateLimit::None)
        .doc(
            "probes",
            "metrics",
            "Prometheus text: requests and latency per route, cache, storage and search figures (with `--metrics-token`, only for `Authorization: Bearer <token>`)",
            Text("text/plain"),
        )
        .errors(&[401]),
    // Replication (a leader's side; hidden from the contract: followers and
    // `shopd backup create --from` are its only clients).
    get("/replication/snapshot", handler!(replication::snapshot))
        .access(Access::Replication)
        .rate(RateLimit::None)
        .doc("replication", "replicationSnapshot", "", Json(200, s::any))
        .hidden(),
    get(
        "/replication/snapshot/{position}/{part}",
        handler!(replication::snapshot_part),
    )
    .access(Access::Replication)
    .rate(RateLimit::None)
    .doc("replication", "replicationSnapshotPart", "", Text("application/octet-stream"))
    .hidden(),
    get("/replication/changes", handler!(replication::changes))
        .access(Access::Replication)
        .rate(RateLimit::None)
        .doc("replication", "replicationChanges", "", Text("application/octet-stream"))
        .hidden(),
    get("/bench/ceiling", handler!(bench::ceiling))
        .cache(CacheClass::Detail)
        .rate(RateLimit::None)
        .doc("probes", "benchCeiling", "", Json(200, s::any))
        .hidden(),
    get("/api/v1/openapi.json", handler!(docs::openapi_json))
        .rate(RateLimit::None)
        .doc(
            "docs",
            "openapi",
            "This OpenAPI 3.1 document",
            Json(200, s::any),
        ),
    get("/docs", handler!(docs::redirect))
        .rate(RateLimit::None)
        .doc("docs", "docsRedirect", "", Empty(308))
        .hidden(),
    get("/docs/", handler!(docs::index))
        .rate(RateLimit::None)
        .doc("docs", "docsIndex", "", Text("text/html"))
        .hidden(),
    get("/docs/{file}", handler!(docs::file))
        .rate(RateLimit::None)
        .doc("docs", "docsFile", "", Text("application/octet-stream"))
        .hidden(),
    // Search.
    get("/api/v1/search", handler!(search::search))
        .cache(CacheClass::List)
        .doc(
            "search",
            "search",
            "Full-text product search with highlights and facets",
            Json(200, s::search),
        )
        .errors(&[503]),
    get("/api/v1/search/suggest", handler!(search::suggest))
        .cache(CacheClass::List)
        .doc(
            "search",
            "searchSuggest",
            "Search as you type: completions of the last word, with how many products each finds, and the first products; one request per keystroke",
            Json(200, s::suggest),
        )
        .errors(&[503]),
    get("/api/v1/search/synonyms", handler!(search::get_synonyms))
        .cache(CacheClass::Taxonomy)
        .doc(
            "search",
            "getSynonyms",
            "Synonym groups",
            Json(200, s::synonyms),
        ),
    put("/api/v1/search/synonyms", handler!(search::put_synonyms))
        .staff()
        .doc(
            "search",
            "putSynonyms",
            "Replace the synonym groups",
            Json(200, s::synonyms),
        ),
    get("/api/v1/search/analytics", handler!(search::analytics))
        .staff()
        .doc(
            "search",
            "searchAnalytics",
            "Most frequent and most frequent zero-hit queries",
            Json(200, s::analytics),
        ),
    // Product images.
    post("/api/v1/media", handler!(media::upload))
        .staff()
        .doc(
            "media",
            "uploadMedia",
            "Upload a product image: multipart/form-data with a `file` part and an optional `alt` part, or the image as the raw body (an image/* type, `?alt=`). JPEG, PNG, WebP or GIF (its first frame), read from the bytes; 201 with its record, or 200 with the stored record for bytes uploaded before. Refused: other bytes (415 `unsupported_image`), more pixels than the limit, a damaged file or one holding another format (422 `image_too_large`, `image_damaged`, `image_polyglot`), every decoder busy (503 `busy`)",
            Json(201, s::media),
        )
        .errors(&[413, 415, 503]),
    get("/api/v1/media/{id}", handler!(media::detail))
        .staff()
        .doc(
            "media",
            "getMedia",
            "An uploaded image's record and its variants",
            Json(200, s::media),
        ),
    patch("/api/v1/media/{id}", handler!(media::update))
        .staff()
        .doc(
            "media",
            "updateMedia",
            "Change an image's alt text",
            Json(200, s::media),
        ),
    delete("/api/v1/media/{id}", handler!(media::delete))
        .staff()
        .doc(
            "media",
            "deleteMedia",
            "Delete an image no product shows (409 `media_in_use`, naming the products, otherwise)",
            Empty(204),
        )
        .errors(&[409, 503]),
    get("/media/{id}/{file}", handler!(media::variant))
        // Static bytes from memory, fetched many per page: a storefront's
        // category page asks for dozens at once.
        .rate(RateLimit::None)
        .doc(
            "media",
            "getMediaVariant",
            "An image variant: `{file}` is a size (160, 480 or 1200: the longer side; never larger than the original) negotiated on `Accept` (AVIF, then WebP, then JPEG; `Vary: Accept`), or a size and an extension (`480.webp`, `480.avif`, `480.jpg`). Immutable once made; until then the best variant made stands in (max-age 60)",
            Image,
        ),
    // Products and reviews.
    get("/api/v1/products", handler!(products::list))
        .cache(CacheClass::List)
        .doc(
            "products",
            "listProducts",
            "Products, filtered, sorted and paged",
            Json(200, s::product_page),
        ),
    post("/api/v1/products", handler!(products::create))
        .staff()
        .doc(
            "products",
            "createProduct",
            "Create a product (404 when `brandId` or `categoryIds` name none)",
            Json(201, s::product_detail),
        )
        .errors(&[404, 409]),
    get("/api/v1/products/{id}", handler!(products::detail))
        .cache(CacheClass::Detail)
        .doc(
            "products",
            "getProduct",
            "A product with its brand, categories, newest reviews and rating",
            Json(200, s::product_detail),
        ),
    patch("/api/v1/products/{id}", handler!(products::update))
        .staff()
        .doc(
            "products",
            "updateProduct",
            "Change some fields of a product (404 when it, `brandId` or `categoryIds` name none)",
            Json(200, s::product_detail),
        ),
    delete("/api/v1/products/{id}", handler!(products::delete))
        .staff()
        .doc(
            "products",
            "deleteProduct",
            "Delete a product and its reviews",
            Empty(204),
        ),
    get("/api/v1/products/{id}/reviews", handler!(products::reviews))
        .cache(CacheClass::Detail)
        .doc(
            "products",
            "listReviews",
            "A product's reviews, newest first",
            Json(200, s::review_page),
        ),
    post(
        "/api/v1/products/{id}/reviews",
        handler!(products::create_review),
    )
    .access(Access::Signed)
    .doc(
        "products",
        "createReview",
        "Add a review: staff import any user's; a customer reviews, once, a product of one of their completed orders (403 not_purchased otherwise)",
        Json(201, s::review),
    )
    .errors(&[409]),
    post(
        "/api/v1/admin/reviews/{id}/hide",
        handler!(products::hide_review),
    )
    .staff()
    .doc(
        "products",
        "hideReview",
        "Hide a review: it leaves its product's reviews and rating at once",
        Empty(204),
    ),
    post(
        "/api/v1/admin/reviews/{id}/show",
        handler!(products::show_review),
    )
    .staff()
    .doc(
        "products",
        "showReview",
        "Show a hidden review again (409 if its product was deleted)",
        Empty(204),
    )
    .errors(&[409]),
    // Brands.
    get("/api/v1/brands", handler!(brands::list))
        .cache(CacheClass::Taxonomy)
        .doc(
            "brands",
            "listBrands",
            "Brands by title, then id",
            Json(200, s::brand_page),
        ),
    post("/api/v1/brands", handler!(brands::create))
        .staff()
        .doc(
            "brands",
            "createBrand",
            "Create a brand",
            Json(201, s::brand),
        )
        .errors(&[409]),
    get("/api/v1/brands/{id}", handler!(brands::detail))
        .cache(CacheClass::Taxonomy)
        .doc("brands", "getBrand", "One brand", Json(200, s::brand)),
    patch("/api/v1/brands/{id}", handler!(brands::update))
        .staff()
        .doc(
            "brands",
            "updateBrand",
            "Change some fields of a brand",
            Json(200, s::brand),
        ),
    delete("/api/v1/brands/{id}", handler!(brands::delete))
        .staff()
        .doc(
            "brands",
            "deleteBrand",
            "Delete a brand no product uses",
            Empty(204),
        )
        .errors(&[409]),
    // The job queue (admin).
    get("/api/v1/admin/jobs", handler!(jobs::list))
        .staff()
        .doc(
            "jobs",
            "listJobs",
            "Jobs, newest first, filtered by queue, state and kind",
            Json(200, s::job_page),
        ),
    get("/api/v1/admin/jobs/stats", handler!(jobs::stats))
        .staff()
        .doc(
            "jobs",
            "jobStats",
            "Jobs per queue and state, all-time totals, the oldest due job's age, the mail transport",
            Json(200, s::job_stats),
        ),
    get("/api/v1/admin/jobs/{id}", handler!(jobs::detail))
        .staff()
        .doc("jobs", "getJob", "One job", Json(200, s::job)),
    delete("/api/v1/admin/jobs/{id}", handler!(jobs::discard))
        .staff()
        .doc(
            "jobs",
            "discardJob",
            "Remove a job no worker holds (a running one: 409)",
            Empty(204),
        )
        .errors(&[409]),
    post("/api/v1/admin/jobs/{id}/retry", handler!(jobs::retry))
        .staff()
        .doc(
            "jobs",
            "retryJob",
            "Queue a failed or dead job again, now (others: 409)",
            Json(200, s::job),
        )
        .errors(&[409]),
    post(
        "/api/v1/admin/notifications/test",
        handler!(jobs::test_mail),
    )
    .admin()
    .doc(
        "jobs",
        "testMail",
        "Enqueue a test email to an address, to check the mail settings",
        Json(202, s::enqueued),
    ),
    // Accounts: sign-up, sign-in, tokens, password reset.
    post("/api/v1/auth/register", handler!(accounts::register))
        .sign_in()
        .doc(
            "accounts",
            "register",
            "Open a customer account; a verification link is mailed (same answer whether or not the email has an account)",
            Json(202, s::accepted),
        ),
    post("/api/v1/auth/login", handler!(accounts::login))
        .sign_in()
        .doc(
            "accounts",
            "login",
            "Sign in: an access token (15 min) and a refresh token (single use)",
            Json(200, s::tokens),
        )
        .errors(&[401, 403]),
    post("/api/v1/auth/refresh", handler!(accounts::refresh))
        .sign_in()
        .doc(
            "accounts",
            "refresh",
            "Trade a refresh token for a new pair; reusing an old one revokes its session (401 token_reused)",
            Json(200, s::tokens),
        )
        .errors(&[401]),
    post("/api/v1/auth/logout", handler!(accounts::logout))
        .account()
        .doc(
            "accounts",
            "logout",
            "End this session: its refresh token and access tokens stop working",
            Empty(204),
        ),
    post(
        "/api/v1/auth/password-reset",
        handler!(accounts::request_reset),
    )
    .sign_in()
    .doc(
        "accounts",
        "requestPasswordReset",
        "Mail a reset link (valid 1 hour) if the email has an account; the answer is the same either way",
        Json(202, s::accepted),
    ),
    post(
        "/api/v1/auth/password-reset/confirm",
        handler!(accounts::confirm_reset),
    )
    .sign_in()
    .doc(
        "accounts",
        "confirmPasswordReset",
        "Set a new password with the mailed token (single use); every session ends; \
         401 invalid_token when it is unknown, used or expired",
        Empty(204),
    )
    .errors(&[401]),
    post("/api/v1/auth/verify-email", handler!(accounts::verify_email))
        .sign_in()
        .doc(
            "accounts",
            "verifyEmail",
            "Confirm the email address with the mailed token (single use); 401 invalid_token \
             when it is unknown, used or expired",
            Empty(204),
        )
        .errors(&[401]),
    // The signed-in account.
    get("/api/v1/me", handler!(accounts::me))
        .account()
        .doc("accounts", "getMe", "The signed-in account", Json(200, s::user)),
    patch("/api/v1/me", handler!(accounts::update_me))
        .account()
        .doc(
            "accounts",
            "updateMe",
            "Change the signed-in account's name or phone",
            Json(200, s::user),
        ),
    post("/api/v1/me/password", handler!(accounts::change_password))
        .account()
        .doc(
            "accounts",
            "changePassword",
            "Change the password (the current one is required); other sessions end",
            Empty(204),
        )
        .errors(&[403]),
    // Users and API keys (admin).
    get("/api/v1/admin/users", handler!(accounts::list_users))
        .admin()
        .doc(
            "users",
            "listUsers",
            "Accounts by email, filtered by role and email prefix",
            Json(200, s::user_page),
        ),
    get("/api/v1/admin/users/{id}", handler!(accounts::get_user))
        .admin()
        .doc("users", "getUser", "One account", Json(200, s::user)),
    patch("/api/v1/admin/users/{id}", handler!(accounts::administer_user))
        .admin()
        .doc(
            "users",
            "updateUser",
            "Change an account's role or ban it; either ends its sessions at once",
            Json(200, s::user),
        ),
    get("/api/v1/admin/api-keys", handler!(accounts::list_keys))
        .admin()
        .doc(
            "users",
            "listApiKeys",
            "API keys (never their secrets), revoked ones too",
            Json(200, s::api_keys),
        ),
    post("/api/v1/admin/api-keys", handler!(accounts::create_key))
        .admin()
        .doc(
            "users",
            "createApiKey",
            "Create an API key with a role (staff or admin); its secret is shown in this answer only",
            Json(201, s::api_key),
        ),
    get("/api/v1/admin/api-keys/{id}", handler!(accounts::get_key))
        .admin()
        .doc("users", "getApiKey", "One API key", Json(200, s::api_key)),
    delete("/api/v1/admin/api-keys/{id}", handler!(accounts::revoke_key))
        .admin()
        .doc(
            "users",
            "revokeApiKey",
            "Revoke an API key: it stops working at once",
            Empty(204),
        ),
    // Categories.
    get("/api/v1/categories", handler!(categories::tree))
        .cache(CacheClass::Taxonomy)
        .doc(
            "categories",
            "categoryTree",
            "The category tree, siblings by title",
            Json(200, s::category_tree),
        ),
    post("/api/v1/categories", handler!(categories::create))
        .staff()
        .doc(
            "categories",
            "createCategory",
            "Create a category (404 when `parentId` names none)",
            Json(201, s::category),
        )
        .errors(&[404, 409]),
    get("/api/v1/categories/{id}", handler!(categories::detail))
        .cache(CacheClass::Taxonomy)
        .doc(
            "categories",
            "getCategory",
            "One category with its parent id and children",
            Json(200, s::category),
        ),
    patch("/api/v1/categories/{id}", handler!(categories::update))
        .staff()
        .doc(
            "categories",
            "updateCategory",
            "Change some fields of a category (moving it re-files its products)",
            Json(200, s::category),
        ),
    delete("/api/v1/categories/{id}", handler!(categories::delete))
        .staff()
        .doc(
            "categories",
            "deleteCategory",
            "Delete a category without children or products",
            Empty(204),
        )
        .errors(&[409]),
    // Carts: a signed-in account's, or a guest's behind X-Cart-Token.
    get("/api/v1/cart", handler!(cart::get_cart))
        .access(Access::Shopper)
        .doc(
            "cart",
            "getCart",
            "The cart, re-priced from the catalogue, with each line's problems",
            Json(200, s::cart),
        ),
    delete("/api/v1/cart", handler!(cart::clear_cart))
        .access(Access::Shopper)
        .doc("cart", "clearCart", "Empty the cart", Empty(204)),
    post("/api/v1/cart/items", handler!(cart::add_item))
        .access(Access::Shopper)
        .doc(
            "cart",
            "addCartItem",
            "Add a product (a guest without a cart gets one: its token is in X-Cart-Token)",
            Json(200, s::cart),
        )
        .errors(&[404, 409]),
    patch("/api/v1/cart/items/{id}", handler!(cart::set_quantity))
        .access(Access::Shopper)
        .doc(
            "cart",
            "setCartItem",
            "Set a line's quantity (1–99)",
            Json(200, s::cart),
        ),
    delete("/api/v1/cart/items/{id}", handler!(cart::remove_item))
        .access(Access::Shopper)
        .doc(
            "cart",
            "removeCartItem",
            "Remove a line",
            Json(200, s::cart),
        ),
    // Checkout and orders.
    post("/api/v1/checkout", handler!(orders::checkout))
        .access(Access::Shopper)
        .rate(RateLimit::Checkout)
        .doc(
            "orders",
            "checkout",
            "Place an order from the cart in one transaction: stock, discount code, order, confirmation mail (same Idempotency-Key and body: the same order); 404 when `addressId` or `discountCode` name none",
            Json(201, s::order),
        )
        .errors(&[404, 409]),
    get("/api/v1/orders", handler!(orders::my_orders))
        .account()
        .doc(
            "orders",
            "listMyOrders",
            "The signed-in customer's orders, newest first",
            Json(200, s::order_page),
        ),
    get("/api/v1/orders/{id}", handler!(orders::my_order))
        .access(Access::Shopper)
        .doc(
            "orders",
            "getMyOrder",
            "One of the customer's orders, or a guest's through the signed link mailed to them (404 for anyone else)",
            Json(200, s::order),
        ),
    get("/api/v1/admin/orders", handler!(orders::admin_orders))
        .staff()
        .doc(
            "orders",
            "listOrders",
            "Orders newest first, by status, paid, creation time, customer or number/email",
            Json(200, s::order_page),
        ),
    get("/api/v1/admin/orders/{id}", handler!(orders::admin_order))
        .staff()
        .doc("orders", "getOrder", "One order", Json(200, s::order)),
    post(
        "/api/v1/admin/orders/{id}/status",
        handler!(orders::set_status),
    )
    .staff()
    .doc(
        "orders",
        "setOrderStatus",
        "Move an order: pending → paid → shipped → completed, cancel from pending or paid (stock returns); others 409 illegal_transition",
        Json(200, s::order),
    )
    .errors(&[409]),
    post(
        "/api/v1/admin/orders/{id}/mark-paid",
        handler!(orders::mark_paid),
    )
    .staff()
    .doc(
        "orders",
        "markOrderPaid",
        "Record a bank transfer or cash-on-delivery payment (card orders are paid by the provider's webhook: 409)",
        Json(200, s::order),
    )
    .errors(&[409]),
    post("/api/v1/payments/webhook", handler!(orders::payment_webhook))
        .rate(RateLimit::None)
        .doc(
            "orders",
            "paymentWebhook",
            "A payment provider's signed event (HMAC-SHA256 over t.body, 5-minute tolerance, each event id once)",
            Json(200, s::webhook),
        )
        .errors(&[400, 401, 404, 409, 413, 503]),
    // Discount codes.
    get("/api/v1/admin/discount-codes", handler!(discounts::list_codes))
        .staff()
        .doc(
            "orders",
            "listDiscountCodes",
            "Discount codes, by code",
            Json(200, s::discounts),
        ),
    post("/api/v1/admin/discount-codes", handler!(discounts::create_code))
        .staff()
        .doc(
            "orders",
            "createDiscountCode",
            "Create a discount code (percent or fixed, window, minimum, limits)",
            Json(201, s::discount),
        )
        .errors(&[409]),
    get(
        "/api/v1/admin/discount-codes/{id}",
        handler!(discounts::get_code),
    )
    .staff()
    .doc(
        "orders",
        "getDiscountCode",
        "One discount code with its uses",
        Json(200, s::discount),
    ),
    patch(
        "/api/v1/admin/discount-codes/{id}",
        handler!(discounts::update_code),
    )
    .staff()
    .doc(
        "orders",
        "updateDiscountCode",
        "Change a discount code (not its code)",
        Json(200, s::discount),
    ),
    delete(
        "/api/v1/admin/discount-codes/{id}",
        handler!(discounts::delete_code),
    )
    .staff()
    .doc(
        "orders",
        "deleteDiscountCode",
        "Delete a discount code (orders keep it)",
        Empty(204),
    ),
    // The customer's addresses, wishlist and notifications.
    get("/api/v1/me/addresses", handler!(profile::list_addresses))
        .account()
        .doc(
            "profile",
            "listAddresses",
            "Saved addresses, oldest first",
            Json(200, s::addresses),
        ),
    post("/api/v1/me/addresses", handler!(profile::add_address))
        .account()
        .doc(
            "profile",
            "addAddress",
            "Save an address (the first is the default; at most 20)",
            Json(201, s::address),
        )
        .errors(&[409]),
    patch(
        "/api/v1/me/addresses/{id}",
        handler!(profile::update_address),
    )
    .account()
    .doc(
        "profile",
        "updateAddress",
        "Change a saved address, or make it the default",
        Json(200, s::address),
    ),
    delete(
        "/api/v1/me/addresses/{id}",
        handler!(profile::delete_address),
    )
    .account()
    .doc(
        "profile",
        "deleteAddress",
        "Delete a saved address",
        Empty(204),
    ),
    get("/api/v1/me/wishlist", handler!(profile::wishlist))
        .account()
        .doc(
            "profile",
            "getWishlist",
            "Wished products with their current price and availability, newest first",
            Json(200, s::wishlist),
        ),
    post("/api/v1/me/wishlist", handler!(profile::wish))
        .account()
        .doc(
            "profile",
            "addToWishlist",
            "Wish for a product (again: no change)",
            Empty(204),
        )
        .errors(&[404, 409]),
    delete("/api/v1/me/wishlist/{id}", handler!(profile::unwish))
        .account()
        .doc(
            "profile",
            "removeFromWishlist",
            "Remove a product from the wishlist",
            Empty(204),
        ),
    get("/api/v1/me/notifications", handler!(profile::notifications))
        .account()
        .doc(
            "profile",
            "listNotifications",
            "Notifications about the customer's orders, unread first",
            Json(200, s::notifications),
        ),
    post(
        "/api/v1/me/notifications/{id}/read",
        handler!(profile::read_notification),
    )
    .account()
    .doc(
        "profile",
        "readNotification",
        "Mark a notification read",
        Empty(204),
    ),
];

/// Each distinct pattern once, split, with the index of its first route:
/// matching a path splits it once and compares it with these.
static PATTERNS: LazyLock<Vec<(Vec<&'static str>, usize)>> = LazyLock::new(|| {
    let mut out: Vec<(Vec<&'static str>, usize)> = Vec::new();
    for (i, r) in ROUTES.iter().enumerate() {
        if !ROUTES[..i].iter().any(|p| p.pattern == r.pattern) {
            let segments: Vec<&'static str> = r.pattern.split('/').collect();
            // A table error, not an input error: the unit tests build this.
            assert!(segments.len() <= MAX_SEGMENTS, "{} is too deep", r.pattern);
            out.push((segments, i));
        }
    }
    out
});

/// The first route whose pattern matches `path` (any method). Allocates
/// nothing.
pub(crate) fn route_of(path: &str) -> Option<&'static Route> {
    let mut segments = [""; MAX_SEGMENTS];
    let mut n = 0;
    for s in path.split('/') {
        *segments.get_mut(n)? = s;
        n += 1;
    }
    let path = &segments[..n];
    PATTERNS
        .iter()
        .find(|(pattern, _)| {
            pattern.len() == n && pattern.iter().zip(path).all(|(w, g)| segment_matches(w, g))
        })
        .map(|(_, i)| &ROUTES[*i])
}

/// The route serving `method` on `path` (`HEAD` counts as `GET`).
pub(crate) fn find(method: &Method, path: &str) -> Option<&'static Route> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let pattern = route_of(path)?.pattern;
    ROUTES
        .iter()
        .find(|r| r.pattern == pattern && r.verb.method() == *method)
}

/// The pattern serving `path`, as a metrics label; `"unmatched"` when no
/// route does.
pub(crate) fn label(path: &str) -> &'static str {
    route_of(path).map_or("unmatched", |r| r.pattern)
}

/// The cache class of a `GET` of `path` (probes, admin reads and unknown
/// paths: no-store).
pub(crate) fn cache_class(path: &str) -> CacheClass {
    find(&Method::GET, path).map_or(CacheClass::NoStore, |r| r.cache)
}

/// The methods served on `pattern`, as an `Allow` header value would list them.
pub(crate) fn allowed(pattern: &str) -> impl Iterator<Item = Verb> {
    ROUTES
        .iter()
        .filter(move |r| r.pattern == pattern)
        .map(|r| r.verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_patterns_without_matching_near_misses() {
        for (path, label_) in [
            ("/health", "/health"),
            ("/api/v1/products", "/api/v1/products"),
            ("/api/v1/products/p1", "/api/v1/products/{id}"),
            (
                "/api/v1/products/p1/reviews",
                "/api/v1/products/{id}/reviews",
            ),
            ("/api/v1/search/synonyms", "/api/v1/search/synonyms"),
            ("/docs/", "/docs/"),
            ("/docs/index.css", "/docs/{file}"),
            ("/api/v1/products/", "unmatched"),
            ("/api/v1/products//reviews", "unmatched"),
            ("/api/v1/products/p1/reviews/x", "unmatched"),
            ("/api/v1", "unmatched"),
            ("", "unmatched"),
            ("/nope", "unmatched"),
        ] {
            assert_eq!(label(path), label_, "{path}");
        }
    }

    #[test]
    fn the_split_matcher_agrees_with_matching_each_pattern() {
        for path in [
            "/api/v1/brands/b1",
            "/api/v1/categories",
            "/api/v1/products/p1/reviews",
            "/docs/",
            "/docs",
            "/a/b/c/d/e/f/g/h/i/j",
            "/api/v1/search/",
        ] {
            let slow = ROUTES
                .iter()
                .find(|r| crate::api::route::pattern_matches(r.pattern, path));
            assert_eq!(
                route_of(path).map(|r| r.pattern),
                slow.map(|r| r.pattern),
                "{path}"
            );
        }
    }

    #[test]
    fn each_method_and_pattern_is_declared_once_and_ids_are_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.verb == b.verb && a.pattern == b.pattern),
                    "{} {} twice",
                    a.verb.as_str(),
                    a.pattern
                );
                assert_ne!(a.doc.operation_id, b.doc.operation_id);
            }
            assert!(a.doc.hidden || !a.doc.summary.is_empty(), "{}", a.pattern);
        }
    }

    #[test]
    fn writes_need_credentials_except_signing_in_and_are_rate_limited() {
        for r in ROUTES.iter().filter(|r| r.verb != Verb::Get) {
            if r.pattern == "/api/v1/payments/webhook" {
                // The provider's signature is its credential; a provider
                // retrying a backlog must not be turned away.
                assert_eq!((r.access, r.rate), (Access::Public, RateLimit::None));
            } else if r.access == Access::Public {
                assert_eq!(r.rate, RateLimit::Auth, "{}", r.pattern);
                assert!(r.pattern.starts_with("/api/v1/auth/"), "{}", r.pattern);
            } else if r.pattern == "/api/v1/checkout" {
                assert_eq!(r.rate, RateLimit::Checkout);
            } else {
                assert_eq!(r.rate, RateLimit::Write, "{}", r.pattern);
            }
        }
        for r in ROUTES.iter().filter(|r| {
            r.pattern.starts_with("/api/v1/admin/users")
                || r.pattern.starts_with("/api/v1/admin/api-keys")
        }) {
            assert_eq!(r.access, Access::Admin, "{}", r.pattern);
        }
    }
}
