-- The Postgres design's schema (catalogue, then orders at the end), as the plans' Drizzle/Prisma schema
-- has it (tables "Product", "Brand", "Category", "ProductCategory",
-- "ProductReview", "User"; camelCase column names), adapted to shopd's fields.
--
-- `shopd-baseline load` runs this file in two parts around the bulk COPY, the
-- way pg_dump restores: the tables first, then (after the marker line) keys,
-- foreign keys, indexes and triggers, which are faster to build once over the
-- loaded rows than to maintain row by row. Run whole, it also builds an empty
-- catalogue. It drops whatever an earlier load created.
--
-- Adaptations to shopd, each needed for identical answers:
-- * ids and sorted titles are `COLLATE "C"`: shopd orders strings bytewise
--   (Rust's `str` order); a linguistic collation would not.
-- * `price` is integer cents (shopd's `Price`), not the plans' `real`, which
--   would turn 129.99 into 129.990005.
-- * `ProductCategory.position` keeps the order of a product's `categoryIds`,
--   which shopd returns as given.
-- * `reviewCount`/`ratingSum` are the review aggregate kept on the product
--   (maintained by a trigger), like shopd's `product_ratings` table: the
--   `rating` sort and every list item need the exact mean, and recomputing it
--   from reviews per list request would scan them all. `ratingKey` is shopd's
--   exact mean key, floor(sum * 2^40 / count).
-- * `searchVector` is the full-text document (title A, keywords B, brand and
--   category titles with ancestors C, description D). It depends on other
--   tables, so it is written by the application (load and product writes), not
--   generated. It stays on the product row: it is ~270 of a row's ~800 bytes,
--   but EXPLAIN (ANALYZE, BUFFERS) on the 100K catalogue shows no hot
--   statement that scans the heap sequentially: list counts are index-only
--   scans (78–91 buffers, 20–35 ms, no heap fetches), list pages and sorts
--   fetch their rows through an index, one row per page touched, and the
--   search statements need the column itself (bitmap heap scan with a recheck
--   of `@@`). A side table would save no page read there and add a join to
--   every search statement.

DROP TABLE IF EXISTS "OrderStatusHistory", "OrderLine", "DiscountUse", "IdempotencyKey", "Job",
  "Order", "DiscountCode" CASCADE;
DROP TABLE IF EXISTS "ProductReview", "ProductCategory", "Product", "User", "Category", "Brand",
  "Media" CASCADE;
DROP FUNCTION IF EXISTS product_document(text, text[], text, text);
DROP FUNCTION IF EXISTS product_review_aggregate();

CREATE TABLE "Brand" (
  id          text COLLATE "C" NOT NULL,
  title       text COLLATE "C" NOT NULL,
  description text NOT NULL DEFAULT '',
  logo        text
);

CREATE TABLE "Category" (
  id          text COLLATE "C" NOT NULL,
  title       text COLLATE "C" NOT NULL,
  description text NOT NULL DEFAULT '',
  "parentId"  text COLLATE "C"
);

CREATE TABLE "User" (
  id          text COLLATE "C" NOT NULL,
  email       text NOT NULL,
  name        text NOT NULL,
  "createdAt" timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE "Product" (
  id            text COLLATE "C" NOT NULL,
  title         text NOT NULL,
  description   text NOT NULL DEFAULT '',
  images        text[] NOT NULL DEFAULT '{}',
  keywords      text[] NOT NULL DEFAULT '{}',
  price         bigint NOT NULL CHECK (price >= 0),          -- cents
  discount      double precision NOT NULL DEFAULT 0,
  stock         integer NOT NULL DEFAULT 0,
  "isPhysical"  boolean NOT NULL DEFAULT true,
  "isAvailable" boolean NOT NULL DEFAULT true,
  "isFeatured"  boolean NOT NULL DEFAULT false,
  "brandId"     text COLLATE "C" NOT NULL,
  "createdAt"   timestamptz NOT NULL DEFAULT now(),
  "updatedAt"   timestamptz NOT NULL DEFAULT now(),
  "reviewCount" integer NOT NULL DEFAULT 0,
  "ratingSum"   integer NOT NULL DEFAULT 0,
  "ratingKey"   numeric GENERATED ALWAYS AS (
                  CASE WHEN "reviewCount" > 0
                       THEN div("ratingSum"::numeric * 1099511627776, "reviewCount") END
                ) STORED,
  "searchVector" tsvector
);

CREATE TABLE "ProductCategory" (
  "productId"  text COLLATE "C" NOT NULL,
  "categoryId" text COLLATE "C" NOT NULL,
  position     smallint NOT NULL
);

CREATE TABLE "ProductReview" (
  id          text COLLATE "C" NOT NULL,
  "productId" text COLLATE "C" NOT NULL,
  "userId"    text COLLATE "C" NOT NULL,
  rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
  text        text NOT NULL DEFAULT '',
  "createdAt" timestamptz NOT NULL DEFAULT now()
);

-- Product images (benches/baseline/media.rs): one row per uploaded image,
-- its files on disk under --media-dir; a product's `images` holds media ids
-- beside links, joined by `id = ANY(images)`.
CREATE TABLE "Media" (
  id          text COLLATE "C" PRIMARY KEY,
  sha256      text NOT NULL,
  format      text NOT NULL,
  width       integer NOT NULL,
  height      integer NOT NULL,
  bytes       bigint NOT NULL,
  alt         text NOT NULL DEFAULT '',
  "createdAt" timestamptz NOT NULL DEFAULT now(),
  made        integer NOT NULL DEFAULT 0
);

-- The search document of one product; the weights are shopd's field boosts
-- (title 4, keywords 2, brand/categories 1.5, description 0.5), applied by
-- ts_rank's weight array.
CREATE FUNCTION product_document(title text, keywords text[], facets text, description text)
RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('english', title), 'A')
      || setweight(to_tsvector('english', array_to_string(keywords, ' ')), 'B')
      || setweight(to_tsvector('english', facets), 'C')
      || setweight(to_tsvector('english', description), 'D')
$$;

-- @@ post-load @@

ALTER TABLE "Brand" ADD PRIMARY KEY (id);
ALTER TABLE "Category" ADD PRIMARY KEY (id);
ALTER TABLE "User" ADD PRIMARY KEY (id);
ALTER TABLE "Product" ADD PRIMARY KEY (id);
ALTER TABLE "ProductCategory" ADD PRIMARY KEY ("productId", "categoryId");
ALTER TABLE "ProductReview" ADD PRIMARY KEY (id);

ALTER TABLE "Category" ADD FOREIGN KEY ("parentId") REFERENCES "Category" (id);
ALTER TABLE "Product" ADD FOREIGN KEY ("brandId") REFERENCES "Brand" (id);
ALTER TABLE "ProductCategory" ADD FOREIGN KEY ("productId") REFERENCES "Product" (id) ON DELETE CASCADE;
ALTER TABLE "ProductCategory" ADD FOREIGN KEY ("categoryId") REFERENCES "Category" (id);
ALTER TABLE "ProductReview" ADD FOREIGN KEY ("productId") REFERENCES "Product" (id) ON DELETE CASCADE;
ALTER TABLE "ProductReview" ADD FOREIGN KEY ("userId") REFERENCES "User" (id);

-- The plans' composite indexes.
CREATE INDEX "Product_brandId_idx" ON "Product" ("brandId");
CREATE INDEX "Product_isAvailable_isFeatured_idx" ON "Product" ("isAvailable", "isFeatured");
CREATE INDEX "Product_price_idx" ON "Product" (price);
CREATE INDEX "Product_createdAt_idx" ON "Product" ("createdAt");
CREATE INDEX "Product_brandId_isAvailable_idx" ON "Product" ("brandId", "isAvailable");
CREATE INDEX "ProductCategory_categoryId_productId_idx" ON "ProductCategory" ("categoryId", "productId");
CREATE INDEX "ProductReview_productId_createdAt_idx" ON "ProductReview" ("productId", "createdAt");

-- Indexes the plans' authors would add once EXPLAIN showed a scan (the plans
-- say "verify index usage with EXPLAIN ANALYZE"):
-- * The default list order (`featured`: isFeatured desc, createdAt desc, id)
--   is the most requested page; no index above yields it, so every default
--   list sorted all matching products for the top 20.
CREATE INDEX "Product_featured_order_idx" ON "Product" ("isFeatured" DESC, "createdAt" DESC, id);
-- * The `rating` sort, for the same reason.
CREATE INDEX "Product_rating_order_idx" ON "Product" ("ratingKey" DESC NULLS LAST, "reviewCount" DESC, id);
-- * Full-text search: without a GIN index every search reads every document.
CREATE INDEX "Product_searchVector_idx" ON "Product" USING gin ("searchVector");
-- * The category filter walks the tree down (children by parent) and the
--   tree endpoint lists children; the foreign key alone has no index.
CREATE INDEX "Category_parentId_idx" ON "Category" ("parentId");
-- * GET /brands pages by title, id.
CREATE INDEX "Brand_title_id_idx" ON "Brand" (title, id);

-- Keeps a product's review aggregate in step with its reviews.
CREATE FUNCTION product_review_aggregate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE "Product" SET "reviewCount" = "reviewCount" - 1, "ratingSum" = "ratingSum" - OLD.rating
     WHERE id = OLD."productId";
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE "Product" SET "reviewCount" = "reviewCount" + 1, "ratingSum" = "ratingSum" + NEW.rating
     WHERE id = NEW."productId";
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER "ProductReview_aggregate" AFTER INSERT OR UPDATE OR DELETE ON "ProductReview"
  FOR EACH ROW EXECUTE FUNCTION product_review_aggregate();

-- ---- Orders -----------------------------------------------------------------
--
-- The plans' order tables ("Order", "OrderLine", "OrderStatusHistory",
-- "DiscountCode", "DiscountUse") plus the idempotency keys and the job queue
-- a checkout writes to. Created after the catalogue's keys (they reference
-- them); empty at load. Money is integer cents, as `price`. Carts are not
-- here: they live in Redis (a hash per cart token, 30-day TTL), as the plans
-- keep them.
--
-- A checkout is one READ COMMITTED transaction: per line
-- `UPDATE "Product" SET stock = stock - $n WHERE id = $id AND stock >= $n`
-- (0 rows: roll back, 409), the code's row locked (`FOR UPDATE`) while its
-- uses are counted and raised, the order, its lines, its first history
-- entry, the idempotency key and the confirmation mail's job row inserted.
-- Stock is never below zero: the UPDATE's condition is re-evaluated on the
-- latest row version after a concurrent writer commits, and the CHECK below
-- is the last guard.

ALTER TABLE "Product" ADD CONSTRAINT "Product_stock_nonnegative" CHECK (stock >= 0);

CREATE TABLE "DiscountCode" (
  code                text COLLATE "C" PRIMARY KEY,             -- upper case
  type                text NOT NULL CHECK (type IN ('percent', 'fixed')),
  value               bigint NOT NULL CHECK (value > 0),        -- percent, or cents
  "startsAt"          timestamptz,
  "endsAt"            timestamptz,
  "minOrder"          bigint NOT NULL DEFAULT 0,                -- cents
  "usageLimit"        integer,
  "perCustomerLimit"  integer,
  used                integer NOT NULL DEFAULT 0,
  active              boolean NOT NULL DEFAULT true,
  "createdAt"         timestamptz NOT NULL DEFAULT now(),
  "updatedAt"         timestamptz NOT NULL DEFAULT now(),
  CHECK ("usageLimit" IS NULL OR used <= "usageLimit")
);

-- `number` is an identity column: unique and increasing, but a transaction
-- that rolls back after taking one leaves a gap (shopd's numbers have
-- none). The checkout inserts the order after every stock UPDATE and code
-- check, so only a failed COMMIT can leave a gap.
CREATE TABLE "Order" (
  id                text COLLATE "C" PRIMARY KEY,
  number            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  "userId"          text COLLATE "C" REFERENCES "User" (id),  -- NULL: a guest
  email             text NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'paid', 'shipped', 'completed', 'cancelled')),
  "isPaid"          boolean NOT NULL DEFAULT false,
  "paidAt"          timestamptz,
  "paymentMethod"   text NOT NULL CHECK ("paymentMethod" IN ('bank_transfer', 'cash_on_delivery', 'card')),
  "shippingAddress" jsonb NOT NULL,                           -- {name, line1, line2, city, postalCode, country}
  subtotal          bigint NOT NULL,
  discount          bigint NOT NULL,
  shipping          bigint NOT NULL,
  tax               bigint NOT NULL,
  total             bigint NOT NULL,
  "discountCode"    text COLLATE "C" REFERENCES "DiscountCode" (code),
  "refundDue"       boolean NOT NULL DEFAULT false,
  "createdAt"       timestamptz NOT NULL DEFAULT now(),
  "updatedAt"       timestamptz NOT NULL DEFAULT now()
);
-- The plans' order indexes: a customer's orders newest first, the staff
-- lists by status and payment, by date, by status.
CREATE INDEX "Order_userId_createdAt_idx" ON "Order" ("userId", "createdAt");
CREATE INDEX "Order_status_isPaid_idx" ON "Order" (status, "isPaid");
CREATE INDEX "Order_createdAt_idx" ON "Order" ("createdAt");
CREATE INDEX "Order_status_idx" ON "Order" (status);

-- A snapshot of each line at checkout. No foreign key to "Product": an
-- order outlives the product (deleting an ordered product must not fail,
-- nor change the order).
CREATE TABLE "OrderLine" (
  "orderId"   text COLLATE "C" NOT NULL REFERENCES "Order" (id) ON DELETE CASCADE,
  position    smallint NOT NULL,
  "productId" text COLLATE "C" NOT NULL,
  title       text NOT NULL,
  "unitPrice" bigint NOT NULL,                                -- cents, after the product's discount
  quantity    integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY ("orderId", position)
);

CREATE TABLE "OrderStatusHistory" (
  "orderId"  text COLLATE "C" NOT NULL REFERENCES "Order" (id) ON DELETE CASCADE,
  position   smallint NOT NULL,
  status     text NOT NULL,
  "by"       text NOT NULL,
  at         timestamptz NOT NULL,
  PRIMARY KEY ("orderId", position)
);

-- One row per order that used a code; `customerKey` is `user:<id>` or a
-- guest's lowercased email.
CREATE TABLE "DiscountUse" (
  code          text COLLATE "C" NOT NULL REFERENCES "DiscountCode" (code),
  "customerKey" text NOT NULL,
  "orderId"     text COLLATE "C" NOT NULL REFERENCES "Order" (id) ON DELETE CASCADE,
  "createdAt"   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (code, "customerKey", "orderId")
);

-- Checkout idempotency: (caller, key) -> the SHA-256 of the request body and
-- the order it made. Inserted in the checkout's transaction, so a key names
-- an order exactly when that order exists.
CREATE TABLE "IdempotencyKey" (
  caller        text NOT NULL,
  key           text NOT NULL,
  "requestHash" text NOT NULL,
  "orderId"     text COLLATE "C" NOT NULL REFERENCES "Order" (id) ON DELETE CASCADE,
  "createdAt"   timestamptz NOT NULL DEFAULT now(),
  "expiresAt"   timestamptz NOT NULL,
  PRIMARY KEY (caller, key)
);
CREATE INDEX "IdempotencyKey_expiresAt_idx" ON "IdempotencyKey" ("expiresAt");

-- The job queue (a row per job, claimed with FOR UPDATE SKIP LOCKED by a
-- worker; the baseline records them and runs no worker): the confirmation
-- mail is queued in the checkout's transaction, so it exists exactly when
-- the order does.
CREATE TABLE "Job" (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue       text NOT NULL,
  payload     jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'pending',
  attempts    integer NOT NULL DEFAULT 0,
  "runAt"     timestamptz NOT NULL DEFAULT now(),
  "createdAt" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "Job_status_runAt_idx" ON "Job" (status, "runAt");
