// Browser tests of disabling and enabling a user on the console's user page (issue 18): the button does what
// POST /v1/users/{id}/disable and /enable do (checked through the JSON API: status, seats), the list shows the
// status, an enable without a free seat is refused with a sentence and changes nothing, and nobody is offered
// the button on their own page. Run by tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { TARGETS, DESKTOP, PASSWORD, useBrowser, api, tenantWithAdmin, newPage, signIn, shot } from "./lib.mjs";

useBrowser();

for (const t of TARGETS) {
  describe(`admin console, disabled users, on ${t.name}`, () => {
    const slug = t.outbox ? "disabled-demo" : `di-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    let staff; // a user object of the API
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const post = (p, body) => api(t, "POST", p, body, admin.token);

    before(async () => {
      // Three seats: the admin, the staff member, and one to take while the member is disabled.
      admin = await tenantWithAdmin(t, slug, "株式会社無効試験", "管理 太郎", 3);
      const c = await post("/v1/users", { name: "社員 一郎", email: `ichiro@${slug}.example.com`, delivery: "invite_link" });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      staff = c.json.user;
    });

    test("disable a user, fill the seat, be refused the enable, free a seat, enable", async () => {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      await page.goto(`${t.base}/admin/users/${staff.id}`);
      await page.getByRole("heading", { name: "このユーザーを無効にする" }).waitFor();
      await Promise.all([
        page.waitForURL(/\?done=disabled$/),
        page.getByRole("button", { name: "無効にする" }).click(),
      ]);
      await page.getByText("ユーザーを無効にしました。").waitFor();
      await page.getByText("無効（ログイン不可・席を使わない）").waitFor();
      await shot(t, page, "admin-user-disabled-ja");
      // Nothing that a disabled user cannot be given is offered (credentials, the org-admin flag).
      assert.equal(await page.getByRole("button", { name: "再発行する" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "組織管理者にする" }).count(), 0);
      let u = await get(`/v1/users/${staff.id}`);
      assert.equal(u.json.status, "disabled");
      assert.equal((await get("/v1/tenant")).json.seats_used, 1);

      // The list shows the status.
      await page.goto(`${t.base}/admin/users`);
      await page.getByText("無効（ログイン不可・席を使わない）").waitFor();

      // Two more users fill the contract; enabling is refused with a sentence and nothing changes.
      for (const n of ["2", "3"]) {
        const c = await post("/v1/users", { name: `社員 ${n}`, email: `staff${n}@${slug}.example.com`, delivery: "invite_link" });
        assert.equal(c.status, 201, JSON.stringify(c.json));
      }
      await page.goto(`${t.base}/admin/users/${staff.id}`);
      await page.getByRole("button", { name: "有効にする" }).click();
      await page.getByText("契約のシートをすべて使っています").waitFor();
      u = await get(`/v1/users/${staff.id}`);
      assert.equal(u.json.status, "disabled");
      assert.equal((await get("/v1/tenant")).json.seats_used, 3);

      // Free a seat: the enable goes through.
      const list = await get("/v1/users?status=invited&limit=200");
      const other = list.json.items.find((x) => x.name === "社員 3");
      assert.equal((await api(t, "DELETE", `/v1/users/${other.id}`, undefined, admin.token)).status, 204);
      await page.goto(`${t.base}/admin/users/${staff.id}`);
      await Promise.all([
        page.waitForURL(/\?done=enabled$/),
        page.getByRole("button", { name: "有効にする" }).click(),
      ]);
      await page.getByText("ユーザーを有効にしました").waitFor();
      u = await get(`/v1/users/${staff.id}`);
      assert.equal(u.json.status, "invited");

      // No such button on one's own page.
      const me = await get("/v1/me");
      await page.goto(`${t.base}/admin/users/${me.json.id}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      assert.equal(await page.getByRole("button", { name: "無効にする" }).count(), 0);
      await context.close();
    });

    test("a role without settings: edit has no button and its POST is refused", async () => {
      // The contract is full after the test above: disabling 社員 2 through the API frees a seat.
      const list = await get("/v1/users?status=invited&limit=200");
      const two = list.json.items.find((x) => x.name === "社員 2");
      assert.equal((await post(`/v1/users/${two.id}/disable`, {})).status, 200);
      // A user whose role may only view settings, with a password of their own.
      const login = `viewer.${t.name}`;
      const c = await post("/v1/users", { name: "閲覧 花子", login_id: login, delivery: "generated", role_id: "staff" });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login, password: c.json.initial_password });
      assert.equal(s.status, 200, JSON.stringify(s.json));
      const ch = await api(t, "POST", "/v1/me/password", { current_password: c.json.initial_password, new_password: PASSWORD }, s.json.token);
      assert.equal(ch.status, 204, JSON.stringify(ch.json));
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, login);
      const res = await page.goto(`${t.base}/admin/users/${staff.id}`);
      assert.equal(res.status(), 403);
      assert.equal(await page.locator("form[action$='/status']").count(), 0);
      await page.goto(`${t.base}/account`);
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const before = (await get(`/v1/users/${staff.id}`)).json.status;
      const refused = await page.request.post(`${t.base}/admin/users/${staff.id}/status`, { form: { csrf, disable: "1" }, maxRedirects: 0 });
      assert.equal(refused.status(), 403);
      assert.equal((await get(`/v1/users/${staff.id}`)).json.status, before, "unchanged");
      await context.close();
    });
  });
}
