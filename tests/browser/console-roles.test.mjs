// Browser tests of the admin console's role pages and the notices page (issue 17, operations 13, 14 and 17):
// each operation done the way docs/MANUAL.md says (click, choose, type), then checked through the JSON API;
// and a role that is not an organisation admin sees neither the default-role page nor the buttons that
// create, change or delete roles, and has every such POST refused. Run by tests/scripts/browser.sh against
// both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { TARGETS, DESKTOP, useBrowser, api, tenantWithAdmin, newPage, signIn, shot, mailCount } from "./lib.mjs";

useBrowser();

const OTHER_PASSWORD = "hoshi kumo kaze hikari 2026";

/** An RFC 3339 time as the pages show it: `2026-12-03 16:24 (JST)`. */
function jst(rfc3339) {
  const t = new Date(new Date(rfc3339).getTime() + 9 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())} (JST)`;
}

const LEVEL_JA = { view: "閲覧", edit: "編集" };

for (const t of TARGETS) {
  describe(`admin console, roles and notices, on ${t.name}`, () => {
    // A fixed slug on the fresh embedded store keeps the screenshots the same from run to run.
    const slug = t.outbox ? "roles-demo" : `ro-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const post = (p, body) => api(t, "POST", p, body, admin.token);
    const publish = async (body) => {
      const r = await api(t, "POST", "/v1/ops/notices", body, t.operator);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json;
    };

    /** A user made through the API, signed in once so their first password is their own: `{user, token}`. */
    async function userWithPassword(name, login, roleId, email) {
      const c = await post("/v1/users", {
        name,
        ...(email ? { email } : { login_id: login }),
        delivery: "generated",
        role_id: roleId,
      });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login, password: c.json.initial_password });
      assert.equal(s.status, 200);
      const changed = await api(
        t,
        "POST",
        "/v1/me/password",
        { current_password: c.json.initial_password, new_password: OTHER_PASSWORD },
        s.json.token,
      );
      assert.equal(changed.status, 204, JSON.stringify(changed.json));
      const again = await api(t, "POST", "/v1/auth/login", { tenant: slug, login, password: OTHER_PASSWORD });
      assert.equal(again.status, 200);
      return { user: c.json.user, token: again.json.token };
    }

    async function adminPage() {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    async function roles() {
      const r = await get("/v1/roles");
      assert.equal(r.status, 200);
      return r.json.items;
    }

    async function roleNamed(name) {
      const found = (await roles()).filter((r) => r.name === name);
      assert.equal(found.length, 1, `one role named ${name}`);
      return found[0];
    }

    /** Posts the form the page shows and waits for the answer to the POST. */
    async function submit(page, button) {
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: button }).click(),
      ]);
      return res;
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社ロール試験", "管理 太郎", 20);
    });

    test("operation 14: see what each role may do, the feature × view/edit table (各権限でどのような機能を利用できるのか確認する)", async () => {
      const { context, page } = await adminPage();
      await page.click("#console");
      await page.waitForURL("**/admin/users");
      await page.locator("nav.console").getByRole("link", { name: "ロールと権限" }).click();
      await page.waitForURL("**/admin/roles");
      await page.getByRole("heading", { name: "ロールと権限" }).waitFor();
      await page.locator("#default-role", { hasText: "一般" }).waitFor();
      // Every cell says what the API says of that role and feature.
      const cells = await page.$$eval("#roles td[data-role]", (tds) =>
        tds.map((td) => [td.dataset.role, td.dataset.feature, td.textContent.trim()]),
      );
      const features = (await get("/v1/permissions")).json.items.map((i) => i.feature);
      const all = await roles();
      assert.equal(cells.length, features.length * all.length);
      for (const [role, feature, text] of cells) {
        const level = all.find((r) => r.id === role).grants[feature];
        assert.equal(text, level ? LEVEL_JA[level] : "—", `${role} × ${feature}`);
      }
      assert.equal(await page.locator("td[data-role=staff][data-feature=settings]").innerText(), "閲覧");
      assert.equal(await page.locator("td[data-role=admin][data-feature=settings]").innerText(), "編集");
      assert.equal(await page.locator("td[data-role=learner][data-feature=settings]").innerText(), "—");
      // Built-in roles have no change or delete link.
      assert.equal(await page.locator("a[href^='/admin/roles/staff']").count(), 0);
      const builtin = await page.goto(`${t.base}/admin/roles/staff`);
      assert.equal(builtin.status(), 404);
      await page.goto(`${t.base}/admin/roles`);
      await shot(t, page, "admin-roles-ja");
      await page.goto(`${t.base}/admin/roles?lang=en`);
      await page.getByRole("heading", { name: "Roles and permissions" }).waitFor();
      assert.equal(await page.locator("td[data-role=staff][data-feature=settings]").innerText(), "view");
      await page.goto(`${t.base}/admin/roles?lang=ja`);
      await context.close();
    });

    test("operation 14: create a custom role, change it, and delete it after a confirmation (カスタムロールの作成・変更・削除)", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/roles`);
      await page.getByRole("link", { name: "ロールを作成する" }).click();
      await page.waitForURL("**/admin/roles/new");
      await page.fill("#name", "監査担当");
      await page.getByRole("radio", { name: "設定（ユーザー・グループ・ロール）: 閲覧" }).check();
      await page.getByRole("radio", { name: "操作ログ: 閲覧" }).check();
      await page.getByRole("radio", { name: "内部監査: 編集" }).check();
      await shot(t, page, "admin-role-new-ja");
      await Promise.all([page.waitForURL("**/admin/roles?done=created"), page.getByRole("button", { name: "作成する" }).click()]);
      await page.getByText("ロールを作成しました。").waitFor();
      const made = await roleNamed("監査担当");
      assert.equal(made.builtin, false);
      assert.deepEqual(made.grants, { settings: "view", audit_log: "view", internal_audit: "edit" });
      assert.equal(await page.locator(`td[data-role="${made.id}"][data-feature=internal_audit]`).innerText(), "編集");
      assert.equal(await page.locator(`td[data-role="${made.id}"][data-feature=materials]`).innerText(), "—");

      // A name in use (a custom role's, or a built-in role's): refused with a sentence, nothing created.
      for (const taken of ["監査担当", "担当者"]) {
        await page.goto(`${t.base}/admin/roles/new`);
        await page.fill("#name", taken);
        const res = await submit(page, "作成する");
        assert.equal(res.status(), 409, taken);
        await page.getByText("この名前のロールはすでにあります").waitFor();
        assert.equal(await page.inputValue("#name"), taken, "the form keeps what was typed");
      }
      assert.equal((await roles()).filter((r) => r.name === "監査担当").length, 1);
      // An empty name: 400, nothing created.
      const before = await roles();
      const csrf = await page.locator("input[name=csrf]").getAttribute("value");
      const empty = await page.request.post(`${t.base}/admin/roles`, { form: { csrf, name: " ", g_settings: "view" }, maxRedirects: 0 });
      assert.equal(empty.status(), 400);
      assert.match(await empty.text(), /ロール名は 1 文字以上 100 文字以内/);
      const badLevel = await page.request.post(`${t.base}/admin/roles`, { form: { csrf, name: "不正レベル", g_settings: "owner" }, maxRedirects: 0 });
      assert.equal(badLevel.status(), 400);
      assert.deepEqual(await roles(), before);

      // Change it: rename, and other grants.
      await page.goto(`${t.base}/admin/roles`);
      await page.getByRole("link", { name: "監査担当 を変更" }).click();
      await page.waitForURL(`**/admin/roles/${made.id}`);
      assert.equal(await page.inputValue("#name"), "監査担当");
      assert.ok(await page.getByRole("radio", { name: "操作ログ: 閲覧" }).isChecked(), "the form shows the role's grants");
      await page.fill("#name", "監査・内部統制");
      await page.getByRole("radio", { name: "操作ログ: 編集" }).check();
      await page.getByRole("radio", { name: "内部監査: なし" }).check();
      await page.getByRole("radio", { name: "リスクマネジメント: 閲覧" }).check();
      await shot(t, page, "admin-role-edit-ja");
      await Promise.all([
        page.waitForURL("**/admin/roles?done=updated"),
        page.getByRole("button", { name: "変更を保存する" }).click(),
      ]);
      await page.getByText("ロールを変更しました。").waitFor();
      const changed = (await roles()).find((r) => r.id === made.id);
      assert.equal(changed.name, "監査・内部統制");
      assert.deepEqual(changed.grants, { settings: "view", audit_log: "edit", risk_management: "view" });
      // Renamed to a built-in role's name: refused, unchanged.
      await page.goto(`${t.base}/admin/roles/${made.id}`);
      await page.fill("#name", "管理者");
      assert.equal((await submit(page, "変更を保存する")).status(), 409);
      await page.getByText("この名前のロールはすでにあります").waitFor();
      assert.equal((await roles()).find((r) => r.id === made.id).name, "監査・内部統制");

      // Delete: refused while a user holds it, with the reason; then deleted once nobody does.
      const holder = await post("/v1/users", { name: "監査 花子", login_id: "kansa.hanako", delivery: "generated", role_id: made.id });
      assert.equal(holder.status, 201, JSON.stringify(holder.json));
      await page.goto(`${t.base}/admin/roles`);
      await page.getByRole("link", { name: "監査・内部統制 を削除" }).click();
      await page.waitForURL(`**/admin/roles/${made.id}/delete`);
      await page.getByRole("heading", { name: "ロール「監査・内部統制」を削除しますか？" }).waitFor();
      await page.getByText("この操作は取り消せません。").waitFor();
      await shot(t, page, "admin-role-delete-ja");
      assert.ok((await roles()).some((r) => r.id === made.id), "nothing deleted before the confirmation");
      const inUse = await submit(page, "削除する（取り消せません）");
      assert.equal(inUse.status(), 409);
      await page.getByText("このロールを持つユーザーがいるため、削除できません。").waitFor();
      assert.ok((await roles()).some((r) => r.id === made.id), "a role in use stays");
      const moved = await api(t, "PUT", `/v1/users/${holder.json.user.id}/role`, { role_id: "member" }, admin.token);
      assert.equal(moved.status, 200, JSON.stringify(moved.json));
      await Promise.all([
        page.waitForURL("**/admin/roles?done=deleted"),
        page.getByRole("button", { name: "削除する（取り消せません）" }).click(),
      ]);
      await page.getByText("ロールを削除しました。").waitFor();
      assert.ok(!(await roles()).some((r) => r.id === made.id), "deleted");
      assert.equal(await page.locator(`th[data-role="${made.id}"]`).count(), 0);
      // Its pages are gone too.
      assert.equal((await page.goto(`${t.base}/admin/roles/${made.id}`)).status(), 404);
      assert.equal((await page.goto(`${t.base}/admin/roles/${made.id}/delete`)).status(), 404);
      // A POST without the form's CSRF token is refused.
      const other = await post("/v1/roles", { name: "残るロール", grants: { surveys: "view" } });
      assert.equal(other.status, 201);
      const forged = await page.request.post(`${t.base}/admin/roles/${other.json.id}/delete`, { form: {}, maxRedirects: 0 });
      assert.equal(forged.status(), 403);
      assert.ok((await roles()).some((r) => r.id === other.json.id), "not deleted");
      await context.close();
    });

    test("operation 13: change the role new users get by default (デフォルトで付与される権限を変更する)", async () => {
      const newcomer = await post("/v1/roles", { name: "新人", grants: { elearning: "view", notices: "view" } });
      assert.equal(newcomer.status, 201, JSON.stringify(newcomer.json));
      const id = newcomer.json.id;
      const { context, page } = await adminPage();
      await page.click("#console");
      await page.waitForURL("**/admin/users");
      await page.locator("nav.console").getByRole("link", { name: "既定のロール" }).click();
      await page.waitForURL("**/admin/default-role");
      await page.getByRole("heading", { name: "デフォルトで付与されるロール" }).waitFor();
      assert.equal(await page.locator("#current").innerText(), "一般");
      await page.selectOption("#role_id", { label: "新人" });
      await Promise.all([
        page.waitForURL("**/admin/default-role?done=changed"),
        page.getByRole("button", { name: "変更する" }).click(),
      ]);
      await page.getByText("既定のロールを変更しました。").waitFor();
      assert.equal(await page.locator("#current").innerText(), "新人");
      await shot(t, page, "admin-default-role-ja");
      assert.equal((await get("/v1/tenant")).json.default_role_id, id);
      // A user registered without a role now gets it.
      const u = await post("/v1/users", { name: "新人 一郎", login_id: "shinjin.ichiro", delivery: "generated" });
      assert.equal(u.status, 201, JSON.stringify(u.json));
      assert.equal(u.json.user.role_id, id);
      // The role table marks it.
      await page.goto(`${t.base}/admin/roles`);
      await page.locator("#default-role", { hasText: "新人" }).waitFor();
      // The default role cannot be deleted: the confirmation says why.
      await page.goto(`${t.base}/admin/roles/${id}/delete`);
      const res = await submit(page, "削除する（取り消せません）");
      assert.equal(res.status(), 409);
      await page.getByText("既定のロールになっているため、削除できません。").waitFor();
      assert.ok((await roles()).some((r) => r.id === id));
      // A role that does not exist: refused with a sentence, the default unchanged.
      await page.goto(`${t.base}/admin/default-role`);
      const csrf = await page.locator("input[name=csrf]").getAttribute("value");
      const bad = await page.request.post(`${t.base}/admin/default-role`, { form: { csrf, role_id: "no-such-role" }, maxRedirects: 0 });
      assert.equal(bad.status(), 400);
      assert.match(await bad.text(), /そのロールはありません。/);
      assert.equal((await get("/v1/tenant")).json.default_role_id, id);
      // And back to 一般.
      await page.selectOption("#role_id", { label: "一般" });
      await Promise.all([
        page.waitForURL("**/admin/default-role?done=changed"),
        page.getByRole("button", { name: "変更する" }).click(),
      ]);
      assert.equal((await get("/v1/tenant")).json.default_role_id, "member");
      await page.goto(`${t.base}/admin/default-role?lang=en`);
      await page.getByRole("heading", { name: "Default role of new users" }).waitFor();
      await page.goto(`${t.base}/admin/default-role?lang=ja`);
      await context.close();
    });

    test("operation 17: read the notices (newest first, by kind, a page at a time) and receive them by mail (お知らせ、リリース情報をメールで受信する)", async () => {
      const email = `ippan@${slug}.example.com`;
      const member = await userWithPassword("一般 二郎", email, "member", email);
      // Notices are global: ours are told apart from any others by their ids.
      const occurred = new Date(Date.now() - 2 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
      const incident = await publish({
        kind: "incident",
        title: "ログインできない障害（復旧済み）",
        body: "10:00 から 10:40 まで、一部のお客さまがログインできませんでした。\n現在は復旧しています。ご不便をおかけしました。",
        occurred_at: occurred,
      });
      const releases = [];
      for (let i = 1; i <= 21; i++) {
        const n = String(i).padStart(2, "0");
        releases.push(
          await publish({ kind: "release", title: `リリース 2026.12.${n} のお知らせ`, body: `2026.12.${n} の変更点です。` }),
        );
      }
      const mineIds = new Set([incident.id, ...releases.map((r) => r.id)]);

      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, email, OTHER_PASSWORD);
      await page.click("#notices");
      await page.waitForURL("**/notices");
      await page.getByRole("heading", { name: "お知らせ", exact: true }).waitFor();
      const shown = async () =>
        (await page.$$eval("#notices article", (as) => as.map((a) => a.id.replace(/^notice-/, "")))).filter((id) =>
          mineIds.has(id),
        );
      assert.equal(await page.locator("#notices article").count(), 20, "20 a page");
      const first = await shown();
      const newestFirst = releases.map((r) => r.id).reverse();
      assert.deepEqual(first, newestFirst.slice(0, first.length), "newest first");
      assert.equal(first[0], newestFirst[0]);
      // Times in JST, as the API's list gives them.
      const newest = page.locator(`#notice-${releases[20].id}`);
      await newest.getByRole("heading", { name: releases[20].title }).waitFor();
      await newest.getByText(jst(releases[20].published_at)).waitFor();
      // The next page goes on where the first ended, and reaches the incident.
      await Promise.all([page.waitForURL(/\/notices\?cursor=/), page.click("#next")]);
      const second = await shown();
      assert.ok(!second.some((x) => first.includes(x)), "no notice twice");
      assert.deepEqual(second.slice(0, 2), [releases[0].id, incident.id], "the oldest release, then the incident");
      const inc = page.locator(`#notice-${incident.id}`);
      await inc.getByText(`発生 ${jst(occurred)}`).waitFor();
      await inc.getByText("現在は復旧しています。").waitFor();
      await page.getByRole("link", { name: "« 最新のお知らせ" }).waitFor();
      // Incidents only.
      await page.goto(`${t.base}/notices`);
      await page.selectOption("#kind", "incident");
      await Promise.all([page.waitForURL("**/notices?kind=incident"), page.getByRole("button", { name: "表示する" }).click()]);
      const incidents = await page.locator("#notices article h2").allInnerTexts();
      const apiIncidents = await api(t, "GET", "/v1/notices?kind=incident&limit=20", undefined, member.token);
      assert.deepEqual(incidents, apiIncidents.json.items.map((n) => n.title));
      assert.ok(incidents.includes(incident.title));
      assert.ok(!incidents.some((x) => x.startsWith("リリース")), "no release notice");
      // A kind that does not exist: 400 with a sentence.
      assert.equal((await page.goto(`${t.base}/notices?kind=maintenance`)).status(), 400);

      // Subscribe to incident notices from the same page.
      await page.goto(`${t.base}/notices`);
      const subs = page.locator("#subscriptions");
      await subs.getByRole("checkbox", { name: "障害のお知らせ" }).check();
      await Promise.all([page.waitForURL("**/notices?done=subscriptions"), subs.getByRole("button", { name: "保存" }).click()]);
      await page.getByText("お知らせメールの設定を保存しました。").waitFor();
      assert.ok(await subs.getByRole("checkbox", { name: "障害のお知らせ" }).isChecked());
      const mine = await api(t, "GET", "/v1/me/subscriptions", undefined, member.token);
      assert.deepEqual(mine.json, { release: false, incident: true });
      // The next incident notice is mailed to them.
      const mailed = await mailCount(t, email);
      await publish({
        kind: "incident",
        title: "メール配信の遅延",
        body: "一部のメールの配信が遅れています。順次配信しています。",
        occurred_at: new Date(Date.now() - 60 * 1000).toISOString().replace(/\.\d+Z$/, "Z"),
      });
      let count = mailed;
      for (let i = 0; i < 120 && count === mailed; i++) {
        await new Promise((r) => setTimeout(r, 250));
        count = await mailCount(t, email);
      }
      // (At least one: a mailing of an earlier incident notice still under way may reach them too.)
      assert.ok(count >= mailed + 1, "the incident notice is mailed to them");
      await page.goto(`${t.base}/notices?kind=incident`);
      await page.locator("#notices article h2").first().waitFor();
      assert.equal(await page.locator("#notices article h2").first().innerText(), "メール配信の遅延");
      await shot(t, page, "notices-ja");
      // The account page's form shows the same choice.
      await page.goto(`${t.base}/account`);
      assert.ok(await page.getByRole("checkbox", { name: "障害のお知らせ" }).isChecked());
      await page.goto(`${t.base}/notices?lang=en`);
      await page.getByRole("heading", { name: "Notices", exact: true }).waitFor();
      await page.goto(`${t.base}/notices?lang=ja`);
      await context.close();

      // Signed out: the page sends to the login page.
      const anon = await newPage(t, "ja-JP");
      await anon.page.goto(`${t.base}/notices`);
      await anon.page.waitForURL("**/login");
      await anon.context.close();
    });

    test("a role that is not an organisation admin reads the role table but sees no button to change roles or the default, and its POSTs are refused; a learner sees no console", async () => {
      const editor = await post("/v1/roles", { name: "設定編集", grants: { settings: "edit" } });
      assert.equal(editor.status, 201, JSON.stringify(editor.json));
      const target = await post("/v1/roles", { name: "対象ロール", grants: { surveys: "view" } });
      assert.equal(target.status, 201);
      await userWithPassword("設定 三郎", "settei.saburo", editor.json.id);
      const rolesBefore = await roles();
      const tenantBefore = (await get("/v1/tenant")).json;

      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, "settei.saburo", OTHER_PASSWORD);
      await page.locator("#name", { hasText: "設定 三郎" }).waitFor();
      assert.equal(await page.locator("a[href='/admin/default-role']").count(), 0, "no link to the default role");
      await page.getByRole("link", { name: "ロールと権限" }).click();
      await page.waitForURL("**/admin/roles");
      await page.getByText("ロールの作成・変更・削除は、組織管理者だけができます。").waitFor();
      assert.equal(await page.getByRole("link", { name: "ロールを作成する" }).count(), 0);
      assert.equal(await page.locator("a[href^='/admin/roles/']").count(), 0, "no change or delete link");
      assert.equal(await page.locator("a[href='/admin/default-role']").count(), 0);
      assert.equal(await page.locator("nav.console").getByRole("link", { name: "既定のロール" }).count(), 0);
      for (const p of ["/admin/roles/new", `/admin/roles/${target.json.id}`, `/admin/roles/${target.json.id}/delete`, "/admin/default-role"]) {
        const res = await page.goto(`${t.base}${p}`);
        assert.equal(res.status(), 403, p);
        await page.getByText("この操作の権限がありません").first().waitFor();
        assert.equal(await page.locator("form[action^='/admin']").count(), 0, p);
      }
      // The session's own CSRF token (from the account page's forms) does not open the role POSTs.
      await page.goto(`${t.base}/account`);
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const posts = [
        ["/admin/roles", { csrf, name: "不正ロール", g_settings: "edit" }],
        [`/admin/roles/${target.json.id}`, { csrf, name: "乗っ取り", g_settings: "edit", g_audit_log: "edit" }],
        [`/admin/roles/${target.json.id}/delete`, { csrf }],
        ["/admin/default-role", { csrf, role_id: "admin" }],
      ];
      for (const [p, form] of posts) {
        const res = await page.request.post(`${t.base}${p}`, { form, maxRedirects: 0 });
        assert.equal(res.status(), 403, p);
      }
      assert.deepEqual(await roles(), rolesBefore, "no role created, changed or deleted");
      assert.deepEqual((await get("/v1/tenant")).json, tenantBefore, "the default role unchanged");
      await context.close();

      // A learner (no settings feature) has no console at all: no link, and the role table is refused.
      await userWithPassword("受講 四郎", "jukou.shiro", "learner");
      const learner = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, learner.page, slug, "jukou.shiro", OTHER_PASSWORD);
      await learner.page.locator("#name", { hasText: "受講 四郎" }).waitFor();
      assert.equal(await learner.page.locator("a[href='/admin/roles']").count(), 0, "no link to the role table");
      assert.equal((await learner.page.goto(`${t.base}/admin/roles`)).status(), 403);
      await learner.context.close();
    });
  });
}
