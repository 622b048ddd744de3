// Browser tests of Kanri's pages: headless Chromium from Debian (chromium-headless-shell) driven by
// playwright-core, against kanri-local servers started by tests/scripts/browser.sh (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  TARGETS,
  PASSWORD,
  useBrowser,
  mailedLink,
  mailCount,
  api,
  newPage,
  shot,
  pathOf,
} from "./lib.mjs";

useBrowser();

// ---- the walk, on each backend -------------------------------------------------------------------------------

for (const t of TARGETS) {
  describe(`pages on ${t.name}`, () => {
    // The embedded store is fresh each run: a fixed slug keeps the screenshots the same from run to run.
    const slug = t.outbox ? "demo" : `br-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    const adminEmail = `admin@${slug}.example.com`;
    let inviteLink;

    before(async () => {
      const r = await api(
        t,
        "POST",
        "/v1/ops/tenants",
        { slug, name: "株式会社ブラウザ試験", seat_limit: 10, admin: { name: "山田 花子", email: adminEmail } },
        t.operator,
      );
      assert.equal(r.status, 201, JSON.stringify(r.json));
      inviteLink = (await mailedLink(t, adminEmail)).link;
    });

    test("the invited user opens the mailed link, sets a password and lands on their account page", async () => {
      // A mail scanner opening the link first must not use it up.
      const scanner = await fetch(inviteLink);
      assert.equal(scanner.status, 200);
      const { context, page } = await newPage(t);
      const res = await page.goto(inviteLink);
      assert.equal(res.status(), 200);
      const h = res.headers();
      assert.match(h["content-security-policy"], /default-src 'none'/);
      assert.match(h["content-security-policy"], /frame-ancestors 'none'/);
      assert.equal(h["x-frame-options"], "DENY");
      assert.equal(h["x-content-type-options"], "nosniff");
      assert.equal(h["referrer-policy"], "no-referrer");
      assert.equal(await page.locator("html").getAttribute("lang"), "ja");
      await page.getByText("山田 花子 さん").waitFor();
      await page.getByText("株式会社ブラウザ試験").waitFor();
      await page.getByText("8 文字以上 128 文字以内").waitFor();
      // The stylesheet applied: the CSP allows it by its hash.
      const headerBg = await page.locator("header").evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(headerBg, "rgb(29, 53, 87)", "the stylesheet applies under the CSP");
      await shot(t, page, "set-password-ja");
      await page.fill("#password", PASSWORD);
      await page.fill("#confirm", PASSWORD);
      await Promise.all([page.waitForURL("**/account?done=password_set"), page.click("button[type=submit]")]);
      assert.ok(!page.url().includes("token="), "the token left the URL");
      await page.getByText("パスワードを設定しました").waitFor();
      await page.locator("#name", { hasText: "山田 花子" }).waitFor();
      await page.getByText(adminEmail).waitFor();
      const session = (await context.cookies()).find((c) => c.name === "kanri_session");
      assert.ok(session, "a session cookie");
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, "Lax");
      await shot(t, page, "account-ja");
      assert.deepEqual(page.foreign, [], "no request left the server's origin");
      await context.close();
    });

    test("a used link shows the 'already used' page, never JSON", async () => {
      const { context, page } = await newPage(t);
      const res = await page.goto(inviteLink);
      assert.equal(res.status(), 410);
      assert.match(res.headers()["content-type"], /^text\/html/);
      await page.getByText("このリンクは使えません").first().waitFor();
      await page.getByText("すでに使用済み").waitFor();
      await page.getByText("組織の管理者に、招待の再発行を依頼してください").waitFor();
      await shot(t, page, "link-used-ja");
      await context.close();
    });

    test("sign in, choose notice mails, sign out", async () => {
      const { context, page } = await newPage(t);
      await page.goto(`${t.base}/login`);
      await shot(t, page, "login-ja");
      await page.fill("#tenant", slug);
      await page.fill("#login", adminEmail);
      await page.fill("#password", "wrong password here");
      await page.click("button[type=submit]");
      await page.getByText("テナント ID、ログイン ID またはパスワードが違います").waitFor();
      await page.fill("#password", PASSWORD);
      await Promise.all([page.waitForURL("**/account"), page.click("button[type=submit]")]);
      await page.check("input[name=release]");
      await Promise.all([
        page.waitForURL("**/account?done=subscriptions"),
        page.click("form[action='/account/subscriptions'] button"),
      ]);
      assert.equal(await page.isChecked("input[name=release]"), true);
      assert.equal(await page.isChecked("input[name=incident]"), false);
      await Promise.all([page.waitForURL("**/login?done=signed_out"), page.click("form[action='/logout'] button")]);
      await page.getByText("ログアウトしました").waitFor();
      await page.goto(`${t.base}/account`);
      assert.equal(pathOf(page), "/login", "signed out: the account page sends to the login page");
      await context.close();
    });

    test("a POST without its CSRF token is refused with a 403 page and changes nothing", async () => {
      const { context, page } = await newPage(t);
      await page.goto(`${t.base}/login`);
      await page.fill("#tenant", slug);
      await page.fill("#login", adminEmail);
      await page.fill("#password", PASSWORD);
      await Promise.all([page.waitForURL("**/account"), page.click("button[type=submit]")]);
      // Another site's form: the browser sends the cookie, but the form cannot know the token.
      const forged = await page.request.post(`${t.base}/account/subscriptions`, {
        form: { incident: "on" },
        maxRedirects: 0,
      });
      assert.equal(forged.status(), 403);
      assert.match(await forged.text(), /送信を受け付けられませんでした/);
      const wrong = await page.request.post(`${t.base}/logout`, { form: { csrf: "guess" }, maxRedirects: 0 });
      assert.equal(wrong.status(), 403);
      const login = await page.request.post(`${t.base}/login`, {
        form: { tenant: slug, login: adminEmail, password: PASSWORD },
        maxRedirects: 0,
      });
      assert.equal(login.status(), 403, "login CSRF: a login form without its token is refused too");
      await page.goto(`${t.base}/account`);
      assert.equal(await page.isChecked("input[name=incident]"), false, "nothing changed");
      assert.equal(pathOf(page), "/account", "still signed in");
      await page.setContent(await forged.text());
      await shot(t, page, "csrf-refused-ja");
      await context.close();
    });

    test("a reset from the reset page: the same answer for unknown accounts, a mailed link, a new password", async () => {
      const { context, page } = await newPage(t);
      const before = await mailCount(t, adminEmail);
      await page.goto(`${t.base}/password-reset`);
      await shot(t, page, "password-reset-ja");
      await page.fill("#tenant", slug);
      await page.fill("#login", `nobody@${slug}.example.com`);
      await Promise.all([page.waitForURL("**/password-reset?sent=1"), page.click("button[type=submit]")]);
      const unknownAnswer = await page.locator("main").innerText();
      await page.goto(`${t.base}/password-reset`);
      await page.fill("#tenant", slug);
      await page.fill("#login", adminEmail);
      await Promise.all([page.waitForURL("**/password-reset?sent=1"), page.click("button[type=submit]")]);
      assert.equal(await page.locator("main").innerText(), unknownAnswer, "the same answer either way");
      await shot(t, page, "password-reset-sent-ja");
      const { link } = await mailedLink(t, adminEmail, before);
      await page.goto(link);
      await page.getByRole("heading", { name: "パスワードの再設定" }).waitFor();
      const next = `${PASSWORD} reset`;
      await page.fill("#password", next);
      await page.fill("#confirm", `${next} typo`);
      await page.click("button[type=submit]");
      await page.getByText("2 つの新しいパスワードが一致しません").waitFor();
      await page.fill("#password", next);
      await page.fill("#confirm", next);
      await Promise.all([page.waitForURL("**/account?done=password_set"), page.click("button[type=submit]")]);
      await page.locator("#name", { hasText: "山田 花子" }).waitFor();
      const old = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: adminEmail, password: PASSWORD });
      assert.equal(old.status, 401, "the old password no longer works");
      await context.close();
    });

    test("a user with a generated password must change it at first sign-in", async () => {
      const admin = await api(t, "POST", "/v1/auth/login", {
        tenant: slug,
        login: adminEmail,
        password: `${PASSWORD} reset`,
      });
      assert.equal(admin.status, 200);
      const created = await api(
        t,
        "POST",
        "/v1/users",
        { name: "佐藤 一郎", login_id: "sato.ichiro", delivery: "generated" },
        admin.json.token,
      );
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const initial = created.json.initial_password;
      const { context, page } = await newPage(t);
      await page.goto(`${t.base}/login`);
      await page.fill("#tenant", slug);
      await page.fill("#login", "sato.ichiro");
      await page.fill("#password", initial);
      await Promise.all([page.waitForURL("**/account/password"), page.click("button[type=submit]")]);
      await page.getByText("ご自身のパスワードに変更してください").waitFor();
      await shot(t, page, "change-password-forced-ja");
      await page.goto(`${t.base}/account`);
      assert.equal(pathOf(page), "/account/password", "nothing else before the change");
      await page.fill("#current", initial);
      await page.fill("#password", "sato.ichiro");
      await page.fill("#confirm", "sato.ichiro");
      await page.click("form[action='/account/password'] button");
      await page.getByText("ログイン ID やメールアドレスと同じパスワードは使えません").waitFor();
      const mine = "kawa no nagare ha taezu";
      await page.fill("#current", initial);
      await page.fill("#password", mine);
      await page.fill("#confirm", mine);
      await Promise.all([
        page.waitForURL("**/account?done=password_changed"),
        page.click("form[action='/account/password'] button"),
      ]);
      await page.locator("#name", { hasText: "佐藤 一郎" }).waitFor();
      await page.getByText("なし").first().waitFor(); // no e-mail address
      await context.close();
    });

    test("English by Accept-Language, and a switch kept in a cookie", async () => {
      const { context, page } = await newPage(t, "en-US");
      await page.goto(`${t.base}/login`);
      assert.equal(await page.locator("html").getAttribute("lang"), "en");
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await shot(t, page, "login-en");
      await page.fill("#tenant", slug);
      await page.fill("#login", "sato.ichiro");
      await page.fill("#password", "kawa no nagare ha taezu");
      await Promise.all([page.waitForURL("**/account"), page.click("button[type=submit]")]);
      await page.getByRole("heading", { name: "Your account" }).waitFor();
      await shot(t, page, "account-en");
      await page.click("header a");
      await page.getByRole("heading", { name: "アカウント" }).waitFor();
      await page.goto(`${t.base}/account`);
      assert.equal(await page.locator("html").getAttribute("lang"), "ja", "the choice outlasts the page");
      await page.goto(`${t.base}/set-password?token=no-such-token&lang=en`);
      await page.getByText("This link cannot be used").first().waitFor();
      await context.close();
    });
  });
}
