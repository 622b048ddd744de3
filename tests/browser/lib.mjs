// What the browser test files share: the targets browser.sh starts, the browser, mails, API calls, pages
// and screenshots.
//
// Environment (set by tests/scripts/browser.sh):
//   KANRI_BROWSER_TARGETS  JSON list of {name, base, operator, outbox?, moto?}: one kanri-local per backend;
//                          mails are read from the embedded outbox directory or from moto's SES record.
//   CHROMIUM               the browser binary (default: Debian's chrome-headless-shell).
//   SCREENSHOTS            a directory: the first target saves a PNG of each page there (docs/screenshots).

import { before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

export const TARGETS = JSON.parse(process.env.KANRI_BROWSER_TARGETS || "[]");
const CHROMIUM = process.env.CHROMIUM || "/usr/lib/chromium/chromium-headless-shell";
const SHOTS = process.env.SCREENSHOTS || "";
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1100, height: 800 };
export const PASSWORD = "sakura tsuki umi yama 2026";

assert.ok(TARGETS.length > 0, "KANRI_BROWSER_TARGETS names no server");

let browser;
/** Launches the browser before the file's tests and closes it after them. */
export function useBrowser() {
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });
}

// ---- mails -------------------------------------------------------------------------------------------------

/** Raw RFC 5322 messages the server sent, oldest first. */
async function rawMails(t) {
  if (t.outbox) {
    if (!fs.existsSync(t.outbox)) return [];
    return fs
      .readdirSync(t.outbox)
      .sort()
      .map((f) => fs.readFileSync(path.join(t.outbox, f), "utf8"));
  }
  const data = await (await fetch(`${t.moto}/moto-api/data.json`)).json();
  return ((data.ses || {}).RawMessage || []).map((m) => m.raw_data);
}

function body(raw) {
  const at = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, at);
  const rest = raw.slice(at + 4);
  return /Content-Transfer-Encoding: base64/i.test(head)
    ? Buffer.from(rest.replace(/\s+/g, ""), "base64").toString("utf8")
    : rest;
}

/** The set-password link of the newest mail to `to` (waits for it: mails may go through a task queue). */
export async function mailedLink(t, to, after = 0) {
  for (let i = 0; i < 60; i++) {
    const mails = (await rawMails(t)).filter((r) => r.includes(`To: ${to}\r\n`));
    if (mails.length > after) {
      const m = body(mails[mails.length - 1]).match(/https?:\/\/\S+\/set-password\?token=[A-Za-z0-9_-]+/);
      assert.ok(m, "the mail has a set-password link");
      return { link: m[0], count: mails.length };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no mail to ${to}`);
}

export async function mailCount(t, to) {
  return (await rawMails(t)).filter((r) => r.includes(`To: ${to}\r\n`)).length;
}

// ---- the JSON API ----------------------------------------------------------------------------------------------

export async function api(t, method, p, json, token) {
  const res = await fetch(`${t.base}${p}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A tenant with its first org admin, whose password is set through the mailed link: `{slug, email, token}`. */
export async function tenantWithAdmin(t, slug, name, admin, seatLimit = 10) {
  const email = `admin@${slug}.example.com`;
  const r = await api(
    t,
    "POST",
    "/v1/ops/tenants",
    { slug, name, seat_limit: seatLimit, admin: { name: admin, email } },
    t.operator,
  );
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const { link } = await mailedLink(t, email);
  const token = new URL(link).searchParams.get("token");
  const set = await api(t, "POST", "/v1/auth/set-password", { token, password: PASSWORD });
  assert.equal(set.status, 204, JSON.stringify(set.json));
  const login = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: email, password: PASSWORD });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  return { slug, email, token: login.json.token };
}

// ---- pages ---------------------------------------------------------------------------------------------------

/** A fresh browser context and page (JavaScript off unless asked: every operation works without it). */
export async function newPage(t, locale = "ja-JP", options = {}) {
  const context = await browser.newContext({ viewport: PHONE, locale, javaScriptEnabled: false, ...options });
  const page = await context.newPage();
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(t.base)) foreign.push(r.url());
  });
  page.foreign = foreign;
  return { context, page };
}

/** Signs in on the login page. */
export async function signIn(t, page, tenant, login, password = PASSWORD) {
  await page.goto(`${t.base}/login`);
  await page.fill("#tenant", tenant);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/account/), page.click("button[type=submit]")]);
}

export async function shot(t, page, name) {
  if (!SHOTS || t !== TARGETS[0]) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}
