// The browser login through the gateway in headless Debian chromium (playwright-core, no
// browser download). Run by .ci/browser.sh, which starts the demo gateway and passes:
//   node login.mjs GATEWAY_URL TENANT_URL SCREENSHOT_DIR
// Each step saves a screenshot in SCREENSHOT_DIR; any failed check exits non-zero.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const [gateway, tenant, shots] = process.argv.slice(2);
assert.ok(gateway && tenant && shots, "usage: node login.mjs GATEWAY_URL TENANT_URL SCREENSHOT_DIR");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

let step = 0;
async function shot(page, name) {
  step += 1;
  const file = path.join(shots, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

async function bodyJson(page) {
  return JSON.parse(await page.locator("body").innerText());
}

async function check(name, fn) {
  process.stdout.write(`- ${name}\n`);
  await fn();
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const protectedPage = `${gateway}/api/profile?tab=1`;

  await check("a protected page sends the browser to the tenant's login form", async () => {
    await page.goto(protectedPage);
    await page.waitForURL((u) => u.href.startsWith(`${tenant}/authorize`));
    const url = new URL(page.url());
    assert.equal(url.searchParams.get("response_type"), "code");
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
    assert.ok(url.searchParams.get("nonce"), "a nonce");
    assert.ok(url.searchParams.get("state"), "a state");
    await page.locator("input[name=username]").waitFor();
    await shot(page, "login-form");
  });

  await check("a wrong password stays on the form", async () => {
    await page.fill("input[name=username]", "demo@example.com");
    await page.fill("input[name=password]", "not-the-password");
    await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
    assert.ok(page.url().startsWith(tenant), page.url());
    assert.match(await page.locator("body").innerText(), /Wrong email or password/);
    await shot(page, "wrong-password");
  });

  await check("signing in lands back on the page, with the identity the gateway vouches for", async () => {
    await page.fill("input[name=username]", "demo@example.com");
    await page.fill("input[name=password]", "demo-password");
    await Promise.all([page.waitForURL(protectedPage), page.click("button[type=submit]")]);
    const echo = await bodyJson(page);
    assert.equal(echo.path, "/api/profile");
    assert.equal(echo.query, "tab=1");
    assert.match(echo.headers["x-user-id"], /^auth0\|/);
    assert.equal(echo.headers["x-user-email"], "demo@example.com");
    await shot(page, "back-on-the-page");
  });

  await check("the session cookie is HttpOnly: document.cookie does not show it", async () => {
    const visible = await page.evaluate(() => document.cookie);
    assert.ok(!/(^|;\s*)sid=/.test(visible), `document.cookie: ${visible}`);
    const cookies = await context.cookies(gateway);
    const sid = cookies.find((c) => c.name === "sid");
    assert.ok(sid, "the browser holds sid");
    assert.equal(sid.httpOnly, true);
    assert.equal(sid.secure, true);
    assert.ok(!cookies.some((c) => c.name.startsWith("sid_tx_")), "the login's transaction cookie is gone");
  });

  await check("a page of another origin cannot make a state-changing call with the cookie", async () => {
    const other = await context.newPage();
    await other.goto(`${tenant}/.well-known/openid-configuration`);
    // A cross-origin fetch with credentials: the gateway refuses it (and sends no CORS grant).
    const fetched = await other.evaluate(async (url) => {
      try {
        const r = await fetch(url, { method: "POST", credentials: "include", body: "x=1" });
        return `read ${r.status}`;
      } catch (e) {
        return "opaque";
      }
    }, `${gateway}/api/orders`);
    assert.equal(fetched, "opaque", "the response is not readable cross-origin");
    // The same as a top-level form post, whose answer the browser shows: 403 from the CSRF check.
    await other.evaluate((url) => {
      const f = document.createElement("form");
      f.method = "POST";
      f.action = url;
      document.body.appendChild(f);
      f.submit();
    }, `${gateway}/api/orders`);
    await other.waitForURL(`${gateway}/api/orders`);
    const refusal = await bodyJson(other);
    assert.equal(refusal.error, "access_denied", JSON.stringify(refusal));
    await shot(other, "cross-origin-refused");
    await other.close();
  });

  await check("a website client's password login from a page sets the cookie too", async () => {
    const fresh = await browser.newContext();
    const p = await fresh.newPage();
    await p.goto(`${gateway}/.well-known/openid-configuration`);
    const answer = await p.evaluate(async () => {
      const login = await fetch("/oauth/token", {
        method: "POST",
        headers: { secret: "website-secret", "content-type": "application/json" },
        body: JSON.stringify({ grant_type: "password", username: "demo@example.com", password: "demo-password" }),
      });
      const me = await fetch("/api/me", { headers: { accept: "application/json" } });
      return { login: login.status, body: await login.text(), me: me.status, echo: await me.json(), cookie: document.cookie };
    });
    assert.equal(answer.login, 200, answer.body);
    assert.equal(answer.body, "", "a web client never sees its tokens");
    assert.equal(answer.me, 200);
    assert.equal(answer.echo.headers["x-user-email"], "demo@example.com");
    assert.ok(!answer.cookie.includes("sid="), "HttpOnly");
    await p.goto(`${gateway}/api/me`);
    await shot(p, "password-login-from-a-page");
    await fresh.close();
  });

  await check("logout clears the cookie and the next protected load goes back to the login form", async () => {
    await page.goto(protectedPage);
    await page.evaluate(() => location.assign("/logout"));
    await page.waitForURL((u) => !u.href.startsWith(protectedPage));
    await shot(page, "logged-out");
    const cookies = await context.cookies(gateway);
    assert.ok(!cookies.some((c) => c.name === "sid"), "sid is cleared");
    await page.goto(protectedPage);
    await page.waitForURL((u) => u.href.startsWith(`${tenant}/authorize`));
    await page.locator("input[name=password]").waitFor();
    await shot(page, "login-form-again");
  });

  await context.close();
  console.log("browser login: every check passed");
} finally {
  await browser.close();
}
