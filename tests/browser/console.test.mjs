// Browser tests of the admin console (issue 17): each operation done the way the manual says (click, type),
// then checked through the JSON API; and a role without the permission sees neither the page nor the
// button, and has the POST refused. Run by tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  TARGETS,
  PASSWORD,
  DESKTOP,
  useBrowser,
  mailedLink,
  mailCount,
  api,
  tenantWithAdmin,
  newPage,
  signIn,
  shot,
} from "./lib.mjs";

useBrowser();

const OTHER_PASSWORD = "hoshi kumo kaze hikari 2026";

for (const t of TARGETS) {
  describe(`admin console on ${t.name}`, () => {
    // A fixed slug on the fresh embedded store keeps the screenshots the same from run to run.
    const slug = t.outbox ? "console-demo" : `co-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const post = (p, body) => api(t, "POST", p, body, admin.token);

    /** A user made through the API, signed in once so their first password is their own. */
    async function userWithPassword(name, loginId, roleId) {
      const c = await post("/v1/users", { name, login_id: loginId, delivery: "generated", role_id: roleId });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", {
        tenant: slug,
        login: loginId,
        password: c.json.initial_password,
      });
      assert.equal(s.status, 200);
      const changed = await api(
        t,
        "POST",
        "/v1/me/password",
        { current_password: c.json.initial_password, new_password: OTHER_PASSWORD },
        s.json.token,
      );
      assert.equal(changed.status, 204, JSON.stringify(changed.json));
      return c.json.user;
    }

    async function adminPage(options = {}) {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP, ...options });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    /** The names in the list's table, top to bottom. */
    async function listedNames(page) {
      if (await page.locator("#empty").count()) return [];
      return page.locator("#users tbody tr td:nth-child(2)").allInnerTexts();
    }

    async function findUser(q) {
      const r = await get(`/v1/users?q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200);
      return r.json.items;
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社コンソール試験", "管理 太郎", 40);
      // 21 more users, so the list has a second page; two of them in a group.
      const ids = [];
      for (let i = 1; i <= 21; i++) {
        const n = String(i).padStart(2, "0");
        const c = await post("/v1/users", {
          name: `社員 ${n}`,
          email: `staff${n}@${slug}.example.com`,
          delivery: "invite_link",
        });
        assert.equal(c.status, 201, JSON.stringify(c.json));
        ids.push(c.json.user.id);
      }
      const g = await post("/v1/groups", { name: "情報システム部", member_ids: [ids[2], ids[4]] });
      assert.equal(g.status, 201, JSON.stringify(g.json));
    });

    test("the user list: seats used of the contract, paging, search, filter by group", async () => {
      const { context, page } = await adminPage();
      await page.getByRole("link", { name: "ユーザー管理（一覧・登録・変更・削除）" }).click();
      await page.waitForURL("**/admin/users");
      const tenant = (await get("/v1/tenant")).json;
      await page
        .locator("#seats", { hasText: `利用中のシート数: ${tenant.seats_used} / ${tenant.seat_limit}` })
        .waitFor();
      assert.equal(tenant.seats_used, 22);
      const first = await listedNames(page);
      assert.equal(first.length, 20, "20 users a page");
      await shot(t, page, "admin-users-ja");
      await Promise.all([page.waitForURL(/cursor=/), page.click("#next")]);
      const second = await listedNames(page);
      assert.equal(first.length + second.length, 22, "the second page has the rest");
      assert.ok(!second.some((n) => first.includes(n)), "no user on both pages");
      await page.getByRole("link", { name: "« 最初のページ" }).waitFor();
      await page.fill("#q", "社員 07");
      await Promise.all([page.waitForURL(/q=/), page.getByRole("button", { name: "検索" }).click()]);
      assert.deepEqual(await listedNames(page), ["社員 07"]);
      await page.fill("#q", "staff1");
      await page.getByRole("button", { name: "検索" }).click();
      await page.waitForURL(/q=staff1/);
      assert.equal((await listedNames(page)).length, 10, "an e-mail prefix: staff10 … staff19");
      await page.selectOption("#group", { label: "情報システム部" });
      await Promise.all([page.waitForURL(/group=/), page.getByRole("button", { name: "絞り込む" }).click()]);
      assert.deepEqual((await listedNames(page)).sort(), ["社員 03", "社員 05"]);
      await context.close();
    });

    test("operation 8: register a user with an e-mail address, by mailed link or generated password", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users`);
      await page.getByRole("link", { name: "ユーザーを登録する" }).click();
      await page.waitForURL("**/admin/users/new");
      await page.fill("#name", "招待 花子");
      await page.fill("#email", `hanako@${slug}.example.com`);
      await shot(t, page, "admin-user-new-ja");
      // The link is the default choice.
      assert.equal(await page.isChecked("input[name=delivery][value=invite_link]"), true);
      await Promise.all([page.waitForURL(/\/admin\/users\/[^/]+\?done=invited$/), page.click("form button[type=submit]")]);
      await page.getByText("パスワード設定用のリンクをメールで送りました").waitFor();
      await page.locator("#name", { hasText: "招待 花子" }).waitFor();
      await shot(t, page, "admin-user-ja");
      const [hanako] = await findUser(`hanako@${slug}`);
      assert.equal(hanako.status, "invited");
      assert.equal(hanako.role_id, (await get("/v1/tenant")).json.default_role_id, "the default role");
      const { link } = await mailedLink(t, `hanako@${slug}.example.com`);
      assert.match(link, /\/set-password\?token=/);

      // The same address again: refused with a sentence, nothing created.
      await page.goto(`${t.base}/admin/users/new`);
      await page.fill("#name", "二重 登録");
      await page.fill("#email", `hanako@${slug}.example.com`);
      await page.click("form button[type=submit]");
      await page.getByText("このメールアドレスは、すでにほかのユーザーが使っています。").waitFor();
      assert.equal(await page.inputValue("#name"), "二重 登録", "the form keeps what was typed");
      assert.equal((await findUser(`hanako@${slug}`)).length, 1);

      // A generated password, shown once.
      await page.fill("#name", "発行 次郎");
      await page.fill("#email", `jiro@${slug}.example.com`);
      await page.check("input[name=delivery][value=generated]");
      await page.click("form button[type=submit]");
      await page.getByRole("heading", { name: "ユーザーを登録しました" }).waitFor();
      await page.getByText("このパスワードは今だけ表示され").waitFor();
      const password = await page.inputValue("#password");
      assert.ok(password.length >= 12, password);
      assert.equal(await page.locator("button[data-copy]").isVisible(), false, "no copy button without JavaScript");
      const login = await api(t, "POST", "/v1/auth/login", {
        tenant: slug,
        login: `jiro@${slug}.example.com`,
        password,
      });
      assert.equal(login.status, 200, "the shown password signs in");
      assert.equal(login.json.user.must_change_password, true);
      // Never again: not on the user's page, not in the list.
      await page.click("text=このユーザーのページへ");
      await page.locator("#name", { hasText: "発行 次郎" }).waitFor();
      assert.ok(!(await page.content()).includes(password), "the user's page does not show the password");
      await page.goto(`${t.base}/admin/users?q=jiro`);
      assert.ok(!(await page.content()).includes(password));
      await context.close();
    });

    test("the copy button copies the generated password (JavaScript on)", async () => {
      const { context, page } = await adminPage({ javaScriptEnabled: true });
      await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.base });
      await page.goto(`${t.base}/admin/users/new`);
      await page.fill("#name", "複写 三郎");
      await page.fill("#login_id", "fukusha.saburo");
      await page.check("input[name=delivery][value=generated]");
      await page.click("form button[type=submit]");
      const password = await page.inputValue("#password");
      await shot(t, page, "admin-user-created-ja");
      await page.getByRole("button", { name: "コピー" }).click();
      await page.getByRole("button", { name: "コピーしました" }).waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), password);
      await context.close();
    });

    test("operation 9: register a user without an e-mail address (login id, generated password)", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users/new`);
      await page.fill("#name", "現場 四郎");
      await page.fill("#login_id", "genba.shiro");
      // A link needs an e-mail address: said in words, nothing created.
      await page.click("form button[type=submit]");
      await page.getByText("リンクをメールで送るには、メールアドレスが必要です").waitFor();
      assert.equal((await findUser("genba.shiro")).length, 0);
      await page.check("input[name=delivery][value=generated]");
      await page.click("form button[type=submit]");
      await page.locator("#login", { hasText: "genba.shiro" }).waitFor();
      const password = await page.inputValue("#password");
      const [shiro] = await findUser("genba.shiro");
      assert.equal(shiro.email, null);
      assert.equal(shiro.must_change_password, true);
      const login = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: "genba.shiro", password });
      assert.equal(login.status, 200, "the login id and the shown password sign in");
      await context.close();
    });

    test("operation 12: change a user's role", async () => {
      const [target] = await findUser("社員 08");
      assert.notEqual(target.role_id, "staff");
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users?q=${encodeURIComponent("社員 08")}`);
      await page.getByRole("link", { name: "社員 08" }).click();
      await page.locator("#name", { hasText: "社員 08" }).waitFor();
      await page.selectOption("#role_id", { label: "担当者" });
      await Promise.all([page.waitForURL("**?done=role"), page.getByRole("button", { name: "変更する" }).click()]);
      await page.getByText("ロールを変更しました").waitFor();
      await page.locator("#role", { hasText: "担当者" }).waitFor();
      await shot(t, page, "admin-user-role-ja");
      const after = await get(`/v1/users/${target.id}`);
      assert.equal(after.json.role_id, "staff");
      await context.close();
    });

    test("operation 15: make a user an organisation admin, and take it away (never the last one)", async () => {
      const [target] = await findUser("社員 09");
      assert.equal(target.org_admin, false);
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users/${target.id}`);
      await Promise.all([
        page.waitForURL("**?done=org_admin_on"),
        page.getByRole("button", { name: "組織管理者にする" }).click(),
      ]);
      await page.getByText("組織管理者にしました。").waitFor();
      await page.locator("#role", { hasText: "組織管理者" }).waitFor();
      await shot(t, page, "admin-user-org-admin-ja");
      assert.equal((await get(`/v1/users/${target.id}`)).json.org_admin, true);
      await Promise.all([
        page.waitForURL("**?done=org_admin_off"),
        page.getByRole("button", { name: "組織管理者から外す" }).click(),
      ]);
      await page.getByText("組織管理者から外しました。").waitFor();
      assert.equal((await get(`/v1/users/${target.id}`)).json.org_admin, false);
      // The only org admin cannot take it from themselves: said in words, nothing changed.
      const me = (await get("/v1/me")).json;
      await page.goto(`${t.base}/admin/users/${me.id}`);
      await page.getByRole("button", { name: "組織管理者から外す" }).click();
      await page.getByText("組織管理者を 0 人にすることはできません。").waitFor();
      assert.equal((await get(`/v1/users/${me.id}`)).json.org_admin, true);
      await context.close();
    });

    test("operation 16: each invitation's state, and re-issuing the first link or password", async () => {
      const hanakoEmail = `hanako@${slug}.example.com`;
      const [hanako] = await findUser(hanakoEmail);
      const before = await mailCount(t, hanakoEmail);
      const { link: oldLink } = await mailedLink(t, hanakoEmail);
      const { context, page } = await adminPage();
      const me = (await get("/v1/me")).json;
      await page.goto(`${t.base}/admin/users/${me.id}`);
      await page.locator("#invitation", { hasText: "使用済み" }).waitFor();
      await page.goto(`${t.base}/admin/users/${hanako.id}`);
      await page.locator("#invitation", { hasText: "未使用（有効期限" }).waitFor();
      await shot(t, page, "admin-user-reissue-ja");
      assert.equal(await page.isChecked("input[name=delivery][value=invite_link]"), true);
      await Promise.all([
        page.waitForURL("**?done=reissued_link"),
        page.getByRole("button", { name: "再発行する" }).click(),
      ]);
      await page.getByText("新しいリンクをメールで送りました").waitFor();
      const { link: newLink } = await mailedLink(t, hanakoEmail, before);
      assert.notEqual(newLink, oldLink);
      const old = await fetch(oldLink);
      assert.equal(old.status, 410, "the earlier link no longer works");
      assert.equal((await fetch(newLink)).status, 200);

      // A user without an e-mail address: only a generated password, shown once.
      const [shiro] = await findUser("genba.shiro");
      await page.goto(`${t.base}/admin/users/${shiro.id}`);
      assert.equal(await page.locator("input[name=delivery][value=invite_link]").count(), 0, "no link without an address");
      await page.getByRole("button", { name: "再発行する" }).click();
      await page.getByRole("heading", { name: "パスワードを再発行しました" }).waitFor();
      const password = await page.inputValue("#password");
      const login = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: "genba.shiro", password });
      assert.equal(login.status, 200, "the re-issued password signs in");
      assert.equal(login.json.user.must_change_password, true);
      await context.close();
    });

    test("operation 11: delete one user, and several at once, after a confirmation that it cannot be undone", async () => {
      const doomed = [(await findUser("社員 19"))[0], (await findUser("社員 20"))[0]];
      const single = (await findUser("社員 21"))[0];
      const seatsBefore = (await get("/v1/tenant")).json.seats_used;
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users?q=${encodeURIComponent("社員")}`);
      // Several at once: tick them in the list.
      await page.getByRole("checkbox", { name: "社員 19" }).check();
      await page.getByRole("checkbox", { name: "社員 20" }).check();
      await Promise.all([
        page.waitForURL(/\/admin\/users\/delete\?/),
        page.getByRole("button", { name: "選択したユーザーを削除する" }).click(),
      ]);
      await page.getByRole("heading", { name: "2 人のユーザーを削除しますか？" }).waitFor();
      await page.getByText("この操作は取り消せません。").waitFor();
      await page.locator("#doomed", { hasText: "社員 19" }).waitFor();
      await shot(t, page, "admin-users-delete-ja");
      // Nothing is deleted before the confirmation.
      assert.equal((await get(`/v1/users/${doomed[0].id}`)).status, 200);
      await Promise.all([
        page.waitForURL("**/admin/users?done=deleted&n=2"),
        page.getByRole("button", { name: "削除する（取り消せません）" }).click(),
      ]);
      await page.getByText("2 人のユーザーを削除しました").waitFor();
      for (const u of doomed) assert.equal((await get(`/v1/users/${u.id}`)).status, 404);
      assert.equal((await get("/v1/tenant")).json.seats_used, seatsBefore - 2, "their seats are free");

      // One user, from their page.
      await page.goto(`${t.base}/admin/users/${single.id}`);
      await page.getByRole("link", { name: "削除する…" }).click();
      await page.getByRole("heading", { name: "1 人のユーザーを削除しますか？" }).waitFor();
      await Promise.all([
        page.waitForURL("**/admin/users?done=deleted&n=1"),
        page.getByRole("button", { name: "削除する（取り消せません）" }).click(),
      ]);
      assert.equal((await get(`/v1/users/${single.id}`)).status, 404);

      // A POST without the form's CSRF token is refused.
      const [other] = await findUser("社員 18");
      const forged = await page.request.post(`${t.base}/admin/users/delete`, {
        form: { id: other.id },
        maxRedirects: 0,
      });
      assert.equal(forged.status(), 403);
      assert.equal((await get(`/v1/users/${other.id}`)).status, 200, "not deleted");
      // No delete button for oneself.
      const me = (await get("/v1/me")).json;
      await page.goto(`${t.base}/admin/users/${me.id}`);
      assert.equal(await page.getByRole("link", { name: "削除する…" }).count(), 0);
      await context.close();
    });

    test("a role without the settings permission sees neither the console nor its buttons, and its POSTs are refused", async () => {
      const viewer = await userWithPassword("閲覧 五郎", "etsuran.goro", "staff"); // settings: view only
      const [target] = await findUser("社員 17");
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, "etsuran.goro", OTHER_PASSWORD);
      await page.locator("#name", { hasText: "閲覧 五郎" }).waitFor();
      assert.equal(await page.locator("#console").count(), 0, "no link to the console");
      for (const p of ["/admin/users", "/admin/users/new", `/admin/users/${target.id}`, `/admin/users/delete?id=${target.id}`]) {
        const res = await page.goto(`${t.base}${p}`);
        assert.equal(res.status(), 403, p);
        await page.getByText("この操作の権限がありません").first().waitFor();
        assert.equal(await page.locator("form[action^='/admin']").count(), 0, p);
      }
      await shot(t, page, "admin-forbidden-ja");
      // The session's own CSRF token (from the account page's forms) does not open the console's POSTs.
      await page.goto(`${t.base}/account`);
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const posts = [
        ["/admin/users/delete", { csrf, id: target.id }],
        [`/admin/users/${target.id}/role`, { csrf, role_id: "member" }],
        [`/admin/users/${target.id}/credentials`, { csrf, delivery: "generated" }],
        ["/admin/users", { csrf, name: "不正 登録", login_id: "fusei.touroku", delivery: "generated" }],
      ];
      for (const [p, form] of posts) {
        const res = await page.request.post(`${t.base}${p}`, { form, maxRedirects: 0 });
        assert.equal(res.status(), 403, p);
      }
      const still = await get(`/v1/users/${target.id}`);
      assert.equal(still.status, 200, "not deleted");
      assert.equal(still.json.role_id, target.role_id, "role unchanged");
      assert.equal((await findUser("fusei.touroku")).length, 0, "nobody registered");
      assert.ok(viewer.id);
      await context.close();
    });

    test("a settings editor who is not an org admin cannot delete or demote an org admin: no button, POST refused", async () => {
      // Settings at edit, and what the default role (一般) holds: it may act on 一般 accounts, not on admins.
      const grants = { settings: "edit" };
      for (const f of ["elearning", "security_awareness", "surveys", "announcements", "incidents", "safety_confirmation", "policies", "notices"]) {
        grants[f] = "view";
      }
      const role = await post("/v1/roles", { name: "ユーザー担当", grants });
      assert.equal(role.status, 201, JSON.stringify(role.json));
      await userWithPassword("設定 六郎", "settei.rokuro", role.json.id);
      const me = (await get("/v1/me")).json; // the org admin
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, "settei.rokuro", OTHER_PASSWORD);
      await page.click("#console");
      await page.waitForURL("**/admin/users");
      assert.equal(await page.getByRole("checkbox", { name: "管理 太郎" }).count(), 0, "no checkbox on the org admin");
      assert.equal(await page.getByRole("checkbox", { name: "社員 16" }).count(), 1, "a lesser account has one");
      await page.goto(`${t.base}/admin/users/${me.id}`);
      await page.locator("#name", { hasText: "管理 太郎" }).waitFor();
      assert.equal(await page.locator("#role_id").count(), 0, "no role form");
      assert.equal(await page.getByRole("button", { name: "組織管理者から外す" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "再発行する" }).count(), 0, "no re-issue button");
      assert.equal(await page.getByRole("link", { name: "削除する…" }).count(), 0, "no delete button");
      // Roles beyond the caller's own are not offered for others either.
      await page.goto(`${t.base}/admin/users/new`);
      const offered = await page.locator("#role option").allInnerTexts();
      assert.ok(!offered.includes("管理者"), offered.join(","));
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const del = await page.request.post(`${t.base}/admin/users/delete`, { form: { csrf, id: me.id }, maxRedirects: 0 });
      assert.equal(del.status(), 403);
      assert.match(await del.text(), /組織管理者か、あなたより広い権限を持っているため/);
      const reissue = await page.request.post(`${t.base}/admin/users/${me.id}/credentials`, {
        form: { csrf, delivery: "generated" },
        maxRedirects: 0,
      });
      assert.equal(reissue.status(), 403, "no taking over the org admin's password");
      const demote = await page.request.post(`${t.base}/admin/users/${me.id}/role`, {
        form: { csrf, role_id: "member" },
        maxRedirects: 0,
      });
      assert.equal(demote.status(), 403);
      const [lesser] = await findUser("社員 16");
      await page.goto(`${t.base}/admin/users/${lesser.id}`);
      await page.locator("#role_id").waitFor(); // a lesser account: the role form is there …
      assert.equal(await page.getByRole("button", { name: "組織管理者にする" }).count(), 0, "… but org admin is not theirs to give");
      const promote = await page.request.post(`${t.base}/admin/users/${lesser.id}/org-admin`, {
        form: { csrf, on: "1" },
        maxRedirects: 0,
      });
      assert.equal(promote.status(), 403);
      assert.equal((await get(`/v1/users/${lesser.id}`)).json.org_admin, false);
      const still = await get(`/v1/users/${me.id}`);
      assert.equal(still.status, 200);
      assert.equal(still.json.role_id, me.role_id);
      await context.close();
    });
  });
}
