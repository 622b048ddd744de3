// Browser tests of the console's sign-in policy page (issue 22): an org admin finds it in the navigation,
// a bad network and a list without their own address are refused with a sentence (the latter with a
// warning and a confirmation box), a good policy is saved and read back through the API, a sign-in from
// outside the allow-list is refused on the login page, a required second factor sends a user without one
// to the enrolment page, and a user who is not an org admin sees neither the link nor the page. Run by
// tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { TARGETS, DESKTOP, PASSWORD, useBrowser, api, tenantWithAdmin, newPage, signIn, shot, pathOf } from "./lib.mjs";

useBrowser();

const POLICY = "/v1/tenant/sign-in-policy";

for (const t of TARGETS) {
  describe(`admin console, sign-in policy, on ${t.name}`, () => {
    // A fixed slug on the fresh embedded store keeps the screenshots the same from run to run.
    const slug = t.outbox ? "policy-demo" : `po-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const users = {}; // "member", "wide" → {login, token}
    const get = (p) => api(t, "GET", p, undefined, admin.token);

    /** A user with a password (generated, then changed through the API). */
    async function user(name, login, role_id) {
      const c = await api(t, "POST", "/v1/users", { name, login_id: login, delivery: "generated", role_id }, admin.token);
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const first = c.json.initial_password;
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login, password: first });
      assert.equal(s.status, 200, JSON.stringify(s.json));
      const ch = await api(t, "POST", "/v1/me/password", { current_password: first, new_password: PASSWORD }, s.json.token);
      assert.equal(ch.status, 204, JSON.stringify(ch.json));
      return { login, token: s.json.token };
    }

    async function adminPage(locale = "ja-JP") {
      const { context, page } = await newPage(t, locale, { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    async function post(page, expectPath) {
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/admin/sign-in-policy")),
        page.getByRole("button", { name: /ポリシーを保存する|Save the policy/ }).click(),
      ]);
      if (expectPath) await page.waitForURL(expectPath);
      else await page.waitForLoadState("load");
      return resp.status();
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社ポリシー試験", "管理 太郎", 10);
      users.member = await user("社員 花子", "hanako", "member");
      users.wide = await user("設定 次郎", "jiro", "admin");
    });

    test("an org admin opens the policy from the navigation; bad input is explained and nothing changes", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users`);
      await page.getByRole("navigation").getByRole("link", { name: "サインインポリシー" }).click();
      await page.waitForURL("**/admin/sign-in-policy");
      await page.getByRole("heading", { name: "サインインポリシー" }).waitFor();
      assert.equal(await page.locator("#my-ip").textContent(), "127.0.0.1");
      assert.ok(await page.locator("input[name=second_factor][value=off]").isChecked());
      assert.equal(await page.inputValue("#password_min_length"), "8");
      await shot(t, page, "admin-sign-in-policy-ja");
      const before = (await get(POLICY)).json;

      await page.fill("#ip_allowlist", "127.0.0.0/8\n10.0.0.1/8");
      await page.fill("#password_min_length", "12");
      assert.equal(await post(page), 400);
      await page.locator("#error").waitFor();
      assert.match(await page.locator("#error").textContent(), /IP 許可リストに読み取れない行があります/);
      assert.match(await page.locator("#error").textContent(), /10\.0\.0\.1\/8/);
      // What was typed stays in the form.
      assert.equal(await page.inputValue("#ip_allowlist"), "127.0.0.0/8\n10.0.0.1/8");
      await page.fill("#ip_allowlist", "");
      await page.fill("#idle_timeout_minutes", "2");
      assert.equal(await post(page), 400);
      assert.match(await page.locator("#error").textContent(), /無操作タイムアウトは 5 分から/);
      assert.deepEqual((await get(POLICY)).json, before);
      await context.close();
    });

    test("a list without the admin's own address warns, needs the confirmation, and is not saved without it", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/sign-in-policy`);
      await page.fill("#ip_allowlist", "203.0.113.0/24");
      assert.equal(await post(page), 409);
      await page.locator("#error").waitFor();
      assert.match(await page.locator("#error").textContent(), /現在のアドレス（127\.0\.0\.1）が含まれていません/);
      await page.locator("#lockout-warning").waitFor();
      await page.locator("#confirm_self_lockout").waitFor();
      await shot(t, page, "admin-sign-in-policy-lockout-ja");
      assert.deepEqual((await get(POLICY)).json.ip_allowlist, []);

      // The admin adds their own network instead: saved, and the API reads it back.
      await page.fill("#ip_allowlist", "127.0.0.0/8\n203.0.113.0/24\n2001:DB8::/32");
      await page.fill("#password_min_length", "12");
      await page.fill("#session_lifetime_minutes", "480");
      await page.fill("#idle_timeout_minutes", "30");
      await post(page, "**/admin/sign-in-policy?done=saved");
      await page.getByText("サインインポリシーを保存しました。").waitFor();
      assert.equal(await page.inputValue("#ip_allowlist"), "127.0.0.0/8\n203.0.113.0/24\n2001:db8::/32");
      const saved = (await get(POLICY)).json;
      assert.deepEqual(saved.ip_allowlist, ["127.0.0.0/8", "203.0.113.0/24", "2001:db8::/32"]);
      assert.equal(saved.password_min_length, 12);
      assert.equal(saved.session_lifetime_minutes, 480);
      assert.equal(saved.idle_timeout_minutes, 30);
      assert.equal(saved.second_factor, "off");
      await shot(t, page, "admin-sign-in-policy-saved-ja");
      await context.close();

      const en = await adminPage("en-US");
      await en.page.goto(`${t.base}/admin/sign-in-policy?lang=en`);
      await en.page.getByRole("heading", { name: "Sign-in policy" }).waitFor();
      await shot(t, en.page, "admin-sign-in-policy-en");
      await en.context.close();
    });

    test("from outside the allow-list the login page refuses, and an open session's next page too", async () => {
      const outside = { extraHTTPHeaders: { "x-forwarded-for": "198.51.100.77" } };
      const { context, page } = await newPage(t, "ja-JP", outside);
      await page.goto(`${t.base}/login`);
      await page.fill("#tenant", slug);
      await page.fill("#login", users.member.login);
      await page.fill("#password", PASSWORD);
      const [resp] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click("button[type=submit]")]);
      assert.equal(resp.status(), 403);
      await page.getByText("許可されたネットワーク（IP アドレス）からのサインインだけを受け付けています").waitFor();
      assert.equal(pathOf(page), "/login");
      await shot(t, page, "login-ip-not-allowed-ja");
      await context.close();

      // Signed in from inside, then the same session's cookie from outside: refused with a page.
      const inside = await newPage(t, "ja-JP");
      await signIn(t, inside.page, slug, users.member.login);
      // The password rules shown follow the tenant's minimum (12 since the policy above).
      await inside.page.goto(`${t.base}/account/password`);
      await inside.page.getByText("12 文字以上 128 文字以内").waitFor();
      assert.equal(await inside.page.getAttribute("#password", "minlength"), "12");
      const cookies = await inside.context.cookies();
      const away = await newPage(t, "ja-JP", outside);
      await away.context.addCookies(cookies);
      const r = await away.page.goto(`${t.base}/account`);
      assert.equal(r.status(), 403);
      await away.page.getByText("このネットワークからは利用できません").waitFor();
      await inside.context.close();
      await away.context.close();
    });

    test("a user who is not an org admin sees neither the link nor the page", async () => {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, users.wide.login);
      await page.goto(`${t.base}/admin/users`);
      await page.getByRole("navigation").getByRole("link", { name: "ユーザー一覧" }).waitFor();
      assert.equal(await page.getByRole("navigation").getByRole("link", { name: "サインインポリシー" }).count(), 0);
      const r = await page.goto(`${t.base}/admin/sign-in-policy`);
      assert.equal(r.status(), 403);
      assert.equal((await api(t, "GET", POLICY, undefined, users.wide.token)).status, 403);
      await context.close();
    });

    // Last: with a second factor required of everyone, the admin too may only enrol from here on.
    test("a required second factor sends a user without one to the enrolment page", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/sign-in-policy`);
      await page.check("input[name=second_factor][value=everyone]");
      // Saved; the admin, who has no second factor either, is led to enrolment at once, and so is any
      // other console page of that session.
      await post(page, "**/account/mfa");
      assert.equal((await get(POLICY)).json.error.code, "mfa_enrolment_required");
      await page.goto(`${t.base}/admin/users`);
      assert.equal(new URL(page.url()).pathname, "/account/mfa");
      await context.close();

      const m = await newPage(t, "ja-JP");
      await m.page.goto(`${t.base}/login`);
      await m.page.fill("#tenant", slug);
      await m.page.fill("#login", users.member.login);
      await m.page.fill("#password", PASSWORD);
      await Promise.all([m.page.waitForURL(/\/account\/mfa$/), m.page.click("button[type=submit]")]);
      for (const p of ["/account", "/notices"]) {
        await m.page.goto(`${t.base}${p}`);
        assert.equal(new URL(m.page.url()).pathname, "/account/mfa", p);
      }
      const me = (await api(t, "GET", "/v1/me", undefined, users.member.token)).json;
      assert.equal(me.mfa_enrolment_required, true);
      assert.equal((await api(t, "GET", "/v1/tenant", undefined, users.member.token)).json.error.code, "mfa_enrolment_required");
      await m.context.close();
    });
  });
}
