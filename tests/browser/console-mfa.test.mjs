// Browser tests of the second factor (issue 22): a user enrols on /account/mfa (the secret read from the page,
// the code computed here: HMAC-SHA1, RFC 6238), signs out, signs in with password + code, then with a
// recovery code; an admin resets the factor on the console's user page and the user signs in with the
// password alone. Run by tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { TARGETS, DESKTOP, PASSWORD, useBrowser, api, tenantWithAdmin, newPage, signIn, shot, pathOf, mailCount } from "./lib.mjs";

useBrowser();

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    assert.ok(i >= 0, `base32 character ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The six-digit code an authenticator app shows at `seconds` (RFC 6238: SHA-1, 30-second steps). */
function totp(secret, seconds = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const mac = crypto.createHmac("sha1", base32(secret)).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

/** The password step on the login page, which leads to the code page for a user with a factor. */
async function passwordStep(t, page, slug, login) {
  await page.goto(`${t.base}/login`);
  await page.fill("#tenant", slug);
  await page.fill("#login", login);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL(/\/login\/mfa/), page.click("button[type=submit]")]);
}

async function signOut(t, page) {
  await page.goto(`${t.base}/account`);
  await Promise.all([page.waitForURL(/\/login\?done=signed_out/), page.getByRole("button", { name: "ログアウト" }).click()]);
}

for (const t of TARGETS) {
  describe(`second factor, on ${t.name}`, () => {
    const slug = t.outbox ? "mfa-demo" : `mf-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    let staff; // {id, email}
    let secret;
    let codes;

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社二段階", "管理 太郎", 5);
      const email = `jiro@${slug}.example.com`;
      const c = await api(t, "POST", "/v1/users", { name: "社員 二郎", email, delivery: "generated" }, admin.token);
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: email, password: c.json.initial_password });
      assert.equal(s.status, 200, JSON.stringify(s.json));
      const ch = await api(t, "POST", "/v1/me/password", { current_password: c.json.initial_password, new_password: PASSWORD }, s.json.token);
      assert.equal(ch.status, 204, JSON.stringify(ch.json));
      staff = { id: c.json.user.id, email };
    });

    test("enrol on the account page: QR code, secret, one code, ten recovery codes shown once", async () => {
      const { context, page } = await newPage(t);
      await signIn(t, page, slug, staff.email);
      await page.getByText("無効: パスワードだけでログインできます。").waitFor();
      await Promise.all([page.waitForURL(/\/account\/mfa$/), page.getByRole("link", { name: "二段階認証を設定する" }).click()]);
      assert.equal(await page.locator("#mfa-state").textContent(), "無効");
      await shot(t, page, "account-mfa-off-ja");
      await Promise.all([page.waitForURL(/\/account\/mfa$/), page.getByRole("button", { name: "設定を始める" }).click()]);
      // The QR code is inline SVG drawn by the server; the same secret is on the page as text.
      await page.getByRole("img", { name: "認証アプリで読み取る QR コード" }).waitFor();
      assert.ok((await page.locator("#qr path").count()) === 1);
      secret = (await page.locator("#mfa-secret").textContent()).trim();
      assert.match(secret, /^[A-Z2-7]{32}$/);
      await shot(t, page, "account-mfa-setup-ja");
      // A wrong code turns nothing on.
      await page.fill("#code", totp(secret) === "000000" ? "111111" : "000000");
      await page.getByRole("button", { name: "有効にする" }).click();
      await page.getByText("コードが違います。").waitFor();
      assert.equal(await page.locator("#mfa-state").textContent(), "設定中（コードの確認待ち）");
      await page.fill("#code", totp(secret));
      await page.getByRole("button", { name: "有効にする" }).click();
      await page.getByRole("heading", { name: "回復コード" }).waitFor();
      codes = (await page.locator("#recovery-codes li").allTextContents()).map((c) => c.trim());
      assert.equal(codes.length, 10);
      assert.ok(codes.every((c) => /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/.test(c)), codes.join(" "));
      // The download carries the same codes (a data: URL: nothing kept on the server).
      const href = await page.locator("#download").getAttribute("href");
      const file = Buffer.from(href.replace(/^data:text\/plain;charset=utf-8;base64,/, ""), "base64").toString("utf8");
      for (const c of codes) assert.ok(file.includes(c), c);
      await shot(t, page, "account-mfa-codes-ja");
      await Promise.all([page.waitForURL(/\/account\/mfa$/), page.getByRole("link", { name: "保存しました" }).click()]);
      assert.equal(await page.locator("#mfa-state").textContent(), "有効（認証アプリ）");
      assert.equal(await page.locator("#recovery-left").textContent(), "10");
      // Shown once: the page does not show the codes or the secret again.
      const html = await page.content();
      assert.ok(!html.includes(codes[0]) && !html.includes(secret));
      await shot(t, page, "account-mfa-on-ja");
      assert.deepEqual(page.foreign, []);
      await context.close();
    });

    test("sign out, sign in with password and code, then with a recovery code", async () => {
      const { context, page } = await newPage(t);
      await passwordStep(t, page, slug, staff.email);
      // No session yet: the account page sends back to the login page.
      const probe = await context.newPage();
      await probe.goto(`${t.base}/account`);
      assert.equal(pathOf(probe), "/login");
      await probe.close();
      await shot(t, page, "login-mfa-ja");
      await page.fill("#code", "000000");
      await page.getByRole("button", { name: "ログイン" }).click();
      await page.getByText("コードが違うか、すでに使われています。").waitFor();
      await shot(t, page, "login-mfa-wrong-ja");
      // The code of the next step (the confirming step is used up).
      await page.fill("#code", totp(secret, Date.now() / 1000 + 30));
      await Promise.all([page.waitForURL(/\/account$/), page.getByRole("button", { name: "ログイン" }).click()]);
      await page.getByText("有効: ログインには認証アプリのコードが必要です。").waitFor();
      await signOut(t, page);

      // A recovery code, typed in capitals with spaces, works once.
      await passwordStep(t, page, slug, staff.email);
      await page.fill("#code", codes[0].toUpperCase().replace(/-/g, " "));
      await Promise.all([page.waitForURL(/\/account$/), page.getByRole("button", { name: "ログイン" }).click()]);
      await page.goto(`${t.base}/account/mfa`);
      assert.equal(await page.locator("#recovery-left").textContent(), "9");
      await signOut(t, page);
      await passwordStep(t, page, slug, staff.email);
      await page.fill("#code", codes[0]);
      await page.getByRole("button", { name: "ログイン" }).click();
      await page.getByText("コードが違うか、すでに使われています。").waitFor();
      // "Start over" goes back to the password step with the tenant filled in.
      await Promise.all([page.waitForURL(/\/login\?tenant=/), page.getByRole("link", { name: "パスワードの入力からやり直す" }).click()]);
      assert.equal(await page.inputValue("#tenant"), slug);
      // In English too.
      await passwordStep(t, page, slug, staff.email);
      await page.goto(`${t.base}/login/mfa?tenant=${slug}&lang=en`);
      await page.getByRole("heading", { name: "Enter your code" }).waitFor();
      await shot(t, page, "login-mfa-en");
      assert.deepEqual(page.foreign, []);
      await context.close();
    });

    test("an admin resets the factor on the console; the user signs in with the password alone", async () => {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      await page.goto(`${t.base}/admin/users/${staff.id}`);
      assert.equal(await page.locator("#mfa").textContent(), "有効");
      await page.getByRole("heading", { name: "二段階認証をリセットする" }).waitFor();
      await shot(t, page, "admin-user-mfa-ja");
      const mails = await mailCount(t, staff.email);
      // The confirmation box is required: without it the browser does not send the form.
      await page.getByRole("button", { name: "リセットする" }).click();
      assert.equal(pathOf(page), `/admin/users/${staff.id}`);
      assert.equal(await page.locator("#mfa").textContent(), "有効");
      await page.check("#mfa-reset-confirm");
      await Promise.all([page.waitForURL(/\?done=mfa_reset$/), page.getByRole("button", { name: "リセットする" }).click()]);
      await page.getByText("二段階認証をリセットしました。").waitFor();
      assert.equal(await page.locator("#mfa").textContent(), "無効");
      assert.equal(await page.getByRole("button", { name: "リセットする" }).count(), 0);
      await shot(t, page, "admin-user-mfa-reset-ja");
      // Mailed to the user, and in the operation log.
      for (let i = 0; i < 40 && (await mailCount(t, staff.email)) === mails; i++) await new Promise((r) => setTimeout(r, 250));
      assert.equal(await mailCount(t, staff.email), mails + 1);
      const log = await api(t, "GET", "/v1/audit-log?limit=50", undefined, admin.token);
      assert.ok(log.json.items.some((e) => e.action === "user.mfa_reset" && e.target.id === staff.id));
      // Nobody is offered a reset of their own factor.
      const me = await api(t, "GET", "/v1/me", undefined, admin.token);
      await page.goto(`${t.base}/admin/users/${me.json.id}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      assert.equal(await page.locator("form[action$='/mfa/reset']").count(), 0);
      await context.close();

      // The user: password alone, straight to the account page.
      const user = await newPage(t);
      await signIn(t, user.page, slug, staff.email);
      await user.page.getByText("無効: パスワードだけでログインできます。").waitFor();
      await user.context.close();
    });
  });
}
