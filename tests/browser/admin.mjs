// Drives Debian's Chromium (headless) through shopd's admin pages, as a
// shop owner would. Run by tests/api/admin_pages.rs, which starts the
// server, seeds it and checks the results through the API afterwards.
//
// Environment: SHOPD_URL, ADMIN_EMAIL, CUSTOMER_EMAIL, PASSWORD,
// PRODUCT_ID, DEAD_JOB_ID, ZERO_QUERY, SYNONYM, SCREENSHOT_DIR, CHROMIUM.
// Exits 0 when every step passed; otherwise prints what failed and exits 1.
// Any console error, page error, failed request or unexpected 4xx/5xx on
// any page fails the run.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const env = process.env;
const base = env.SHOPD_URL;
const shots = env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });

const problems = [];
// Answers a step expects (a refused sign-in, a form with field errors).
const expected = new Set();

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
page.on("console", (m) => {
  if (m.type() !== "error") return;
  // Chromium reports every 4xx answer as a console error; the expected ones are not problems.
  const status = /status of (\d{3})/.exec(m.text());
  if (status && expected.has(Number(status[1]))) return;
  problems.push(`console error on ${page.url()}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
page.on("response", (r) => {
  if (r.status() >= 400 && !expected.has(r.status())) problems.push(`${r.status()} for ${r.request().method()} ${r.url()}`);
});

function check(ok, what) {
  if (!ok) throw new Error(what);
}

async function text(selector) {
  return (await page.locator(selector).first().textContent())?.trim() ?? "";
}

async function shot(name) {
  await page.screenshot({ path: `${shots}/${name}-desktop.png`, fullPage: true });
}

// Every visible form control has a label (or an aria-label).
async function labelled() {
  const unlabelled = await page.$$eval("input:not([type=hidden]), select, textarea", (els) =>
    els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).map((e) => e.outerHTML),
  );
  check(unlabelled.length === 0, `controls without a label on ${page.url()}: ${unlabelled.join(" ")}`);
}

async function signIn(email) {
  await page.goto(`${base}/admin`);
  check(page.url().includes("/admin/login"), `not sent to sign in: ${page.url()}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(env.PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).press("Enter");
  await page.waitForLoadState();
}

async function flash() {
  return text(".flash");
}

async function step(name, f) {
  try {
    await f();
    console.log(`ok   ${name}`);
  } catch (e) {
    problems.push(`${name}: ${e.message}`);
    console.log(`FAIL ${name}: ${e.message}`);
    await page.screenshot({ path: `${shots}/failed-${name.replace(/\W+/g, "-")}.png`, fullPage: true }).catch(() => {});
  }
}

await step("a customer account is refused", async () => {
  expected.add(403);
  await signIn(env.CUSTOMER_EMAIL);
  check((await text("#login-error")).includes("cannot use the admin pages"), `no refusal: ${await text("main")}`);
  check(page.url().includes("/admin/login"), `left the sign-in page: ${page.url()}`);
  await labelled();
  await page.screenshot({ path: `${shots}/login-desktop.png` });
  expected.delete(403);
});

await step("an admin signs in with the keyboard", async () => {
  await signIn(env.ADMIN_EMAIL);
  check((await text("h1")) === "Overview", `not on the overview: ${page.url()}`);
});

await step("the overview's figures move with traffic", async () => {
  await page.waitForFunction(() => document.querySelectorAll("#charts figure").length >= 10);
  const before = Number(await text("#total-requests"));
  const paths = ["/api/v1/products", "/api/v1/products?page=2", "/api/v1/brands", "/api/v1/categories", "/api/v1/search?q=shirt"];
  for (let i = 0; i < 300; i++) {
    const r = await fetch(base + paths[i % paths.length]);
    await r.arrayBuffer();
  }
  await page.waitForFunction(
    (n) => Number(document.getElementById("total-requests").textContent) >= n,
    before + 300,
    { timeout: 20000 },
  );
  // A sample with the traffic in it: requests/s above zero, and lines drawn.
  await page.waitForFunction(() => {
    const rps = parseFloat(document.getElementById("t-rps").textContent);
    return rps > 0 && document.querySelectorAll("#charts polyline").length > 0;
  }, null, { timeout: 20000 });
  const rows = await page.locator("#tracker tbody tr").count();
  check(rows === 7, `tracker rows: ${rows}`);
  const avg = await text("#tracker tbody tr:first-child td");
  check(/ms$/.test(avg) && avg !== "0.00 ms", `average latency: ${avg}`);
  check((await page.locator("#tracker td.met").count()) >= 3, "fewer than 3 targets met");
  await shot("overview");
});

await step("filter orders and ship the paid one", async () => {
  await page.goto(`${base}/admin/orders`);
  await labelled();
  const all = await page.locator("#orders tbody tr").count();
  check(all >= 2, `orders listed: ${all}`);
  await page.getByLabel("Status").selectOption("paid");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=paid/);
  const rows = page.locator("#orders tbody tr");
  check((await rows.count()) === 1, `paid orders: ${await rows.count()}`);
  check((await rows.first().getAttribute("data-status")) === "paid", "a row is not paid");
  await shot("orders");
  await rows.first().locator("a").click();
  await page.waitForURL(/\/admin\/orders\/[^/?]+$/);
  await page.getByRole("button", { name: "Ship" }).click();
  await page.waitForLoadState();
  check((await flash()).includes("is now shipped"), `after shipping: ${await flash()}`);
  check((await text("#order-status")) === "shipped", `status: ${await text("#order-status")}`);
  await shot("order");
});

await step("edit a product's price, see the field error, then the public API", async () => {
  await page.goto(`${base}/admin/products`);
  await labelled();
  await shot("products");
  await page.goto(`${base}/admin/products/${env.PRODUCT_ID}`);
  expected.add(422);
  await page.getByLabel("Price").fill("twelve");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForLoadState();
  check((await page.locator("#price-err").count()) === 1, "no field error for the price");
  check((await page.getByLabel("Price").getAttribute("aria-invalid")) === "true", "price not marked invalid");
  expected.delete(422);
  await page.getByLabel("Price").fill("123.45");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForLoadState();
  check((await flash()).includes("Product saved"), `after saving: ${await flash()}`);
  const r = await fetch(`${base}/api/v1/products/${env.PRODUCT_ID}`);
  const p = await r.json();
  check(p.data.price === 123.45, `the API says ${p.data.price}`);
  await shot("product");
});

await step("brands and categories", async () => {
  for (const p of ["brands", "categories"]) {
    await page.goto(`${base}/admin/${p}`);
    await labelled();
    await shot(p);
  }
});

await step("retry a dead job", async () => {
  await page.goto(`${base}/admin/jobs`);
  await labelled();
  const row = page.locator(`#jobs tr[data-job="${env.DEAD_JOB_ID}"]`);
  check((await row.count()) === 1, "the dead job is not listed");
  check((await row.locator(".error-text").textContent()).includes("SMTP"), "its last error is not shown");
  await shot("jobs");
  await page.getByRole("button", { name: `Retry job ${env.DEAD_JOB_ID}` }).click();
  await page.waitForLoadState();
  check((await flash()).includes("queued to run again"), `after retry: ${await flash()}`);
});

await step("add a synonym from a zero-hit query and search uses it", async () => {
  const q = encodeURIComponent(env.ZERO_QUERY);
  const before = await (await fetch(`${base}/api/v1/search?q=${q}`)).json();
  check(before.meta.total === 0, `already found: ${before.meta.total}`);
  await page.goto(`${base}/admin/search`);
  await labelled();
  await shot("search");
  const row = page.locator("#zero-hits tr", { hasText: env.ZERO_QUERY });
  check((await row.count()) === 1, "the zero-hit query is not listed");
  await row.getByRole("textbox").fill(env.SYNONYM);
  await row.getByRole("button", { name: "Add synonym" }).click();
  await page.waitForLoadState();
  check((await flash()).includes("now also find"), `after adding: ${await flash()}`);
  check((await page.locator("#groups").inputValue()).includes(env.ZERO_QUERY), "the group is not in the editor");
  const after = await (await fetch(`${base}/api/v1/search?q=${q}`)).json();
  check(after.meta.total > 0, `search still finds nothing for ${env.ZERO_QUERY}`);
});

await step("create an API key (shown once) and revoke it", async () => {
  await page.goto(`${base}/admin/users`);
  await labelled();
  await page.getByLabel("Key name").fill("browser key");
  await page.getByRole("button", { name: "Create key" }).click();
  await page.waitForLoadState();
  const secret = await text("#new-key-secret");
  check(secret.startsWith("sk."), `no secret shown: ${secret}`);
  await shot("users");
  await page.goto(`${base}/admin/users`);
  check((await page.locator("#new-key-secret").count()) === 0, "the secret is shown again");
  await page.getByRole("button", { name: "Revoke key browser key" }).click();
  await page.waitForLoadState();
  check((await flash()).includes("revoked"), `after revoking: ${await flash()}`);
  const r = await fetch(`${base}/api/v1/admin/jobs`, { headers: { "X-API-Key": secret } });
  check(r.status === 401, `a revoked key still works: ${r.status}`);
});

await step("every page fits a phone", async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const p of ["", "orders", "products", `products/${env.PRODUCT_ID}`, "brands", "categories", "jobs", "search", "users"]) {
    await page.goto(`${base}/admin/${p}`);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 362, `/admin/${p} is ${wide} px wide at 360`);
    const name = (p || "overview").replace(/\W+/g, "-");
    await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
});

await step("sign out", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/admin\/login/);
  await page.goto(`${base}/admin/orders`);
  check(page.url().includes("/admin/login"), `still signed in: ${page.url()}`);
});

await browser.close();
if (problems.length) {
  console.log(`\n${problems.length} problem(s):\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log("every step passed");
