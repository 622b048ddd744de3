// Browser tests of the admin console's group pages (issue 17, operations 1-7): each operation done the way
// docs/MANUAL.md says (click, type, upload a file), then checked through the JSON API; and a role without
// the settings permission sees neither the pages nor the buttons, and has every POST refused. Run by
// tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { TARGETS, DESKTOP, useBrowser, api, tenantWithAdmin, newPage, signIn, shot } from "./lib.mjs";

useBrowser();

const OTHER_PASSWORD = "hoshi kumo kaze hikari 2026";

for (const t of TARGETS) {
  describe(`admin console, groups, on ${t.name}`, () => {
    // A fixed slug on the fresh embedded store keeps the screenshots the same from run to run.
    const slug = t.outbox ? "groups-demo" : `gr-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const staff = {}; // "01" → user
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const post = (p, body) => api(t, "POST", p, body, admin.token);
    const mail = (n) => `staff${n}@${slug}.example.com`;

    async function adminPage() {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    /** The groups whose name is exactly `name` (the API's search is by prefix). */
    async function groupsNamed(name) {
      const r = await get(`/v1/groups?limit=200&q=${encodeURIComponent(name)}`);
      assert.equal(r.status, 200);
      return r.json.items.filter((g) => g.name === name);
    }

    async function groupNamed(name) {
      const found = await groupsNamed(name);
      assert.equal(found.length, 1, `one group named ${name}`);
      return found[0];
    }

    /** The display names of a group's members, sorted. */
    async function memberNames(id) {
      const r = await get(`/v1/groups/${id}/members?limit=200`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.items.map((u) => u.name).sort();
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社グループ試験", "管理 太郎", 20);
      for (let i = 1; i <= 8; i++) {
        const n = String(i).padStart(2, "0");
        const c = await post("/v1/users", { name: `社員 ${n}`, email: mail(n), delivery: "invite_link" });
        assert.equal(c.status, 201, JSON.stringify(c.json));
        staff[n] = c.json.user;
      }
    });

    test("operation 1: create a group (グループを新規作成する)", async () => {
      const { context, page } = await adminPage();
      await page.click("#console");
      await page.waitForURL("**/admin/users");
      await page.getByRole("navigation").getByRole("link", { name: "グループ" }).click();
      await page.waitForURL("**/admin/groups");
      await page.getByRole("link", { name: "グループを作成する" }).click();
      await page.waitForURL("**/admin/groups/new");
      await page.fill("#name", "営業部");
      await shot(t, page, "admin-group-new-ja");
      await Promise.all([
        page.waitForURL(/\/admin\/groups\/[^/]+\?done=created$/),
        page.getByRole("button", { name: "作成する" }).click(),
      ]);
      await page.getByText("グループを作成しました。").waitFor();
      await page.locator("#name", { hasText: "営業部" }).waitFor();
      const g = await groupNamed("営業部");
      assert.equal(g.member_count, 0);
      assert.ok(page.url().includes(g.id), "the new group's page");

      // The same name again: refused with a sentence, nothing created.
      await page.goto(`${t.base}/admin/groups/new`);
      await page.fill("#name", "営業部");
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "作成する" }).click(),
      ]);
      assert.equal(res.status(), 409);
      await page.getByText("この名前のグループはすでにあります。").waitFor();
      assert.equal(await page.inputValue("#name"), "営業部", "the form keeps what was typed");
      assert.equal((await groupsNamed("営業部")).length, 1);
      // A name of 101 characters (typed past the box's limit through the request): 400, nothing created.
      const csrf = await page.locator("input[name=csrf]").getAttribute("value");
      const long = await page.request.post(`${t.base}/admin/groups`, {
        form: { csrf, name: "長".repeat(101) },
        maxRedirects: 0,
      });
      assert.equal(long.status(), 400);
      assert.match(await long.text(), /グループ名は 1 文字以上 100 文字以内/);
      assert.equal((await groupsNamed("長".repeat(101))).length, 0);
      // The same pages in English.
      await page.goto(`${t.base}/admin/groups?lang=en`);
      await page.getByRole("heading", { name: "Groups" }).waitFor();
      await page.getByRole("link", { name: "Create a group" }).click();
      await page.getByRole("heading", { name: "Create a group" }).waitFor();
      await context.close();
    });

    test("operation 2: create several groups by typing names, one a line (一括で新規作成する（手入力）)", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups`);
      await page.getByRole("link", { name: "一括作成（手入力）" }).click();
      await page.waitForURL("**/admin/groups/bulk");
      // Blank lines only: said in words, nothing created.
      await page.fill("#names", "  \n ");
      await page.getByRole("button", { name: "一括で作成する" }).click();
      await page.getByText("グループ名を 1 行に 1 つずつ入力してください。").waitFor();
      // 営業部 exists: the others are created, that line is reported and left in the box.
      await page.fill("#names", "総務部\n\n人事部\n経理部\n営業部\n");
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "一括で作成する" }).click(),
      ]);
      assert.equal(res.status(), 200);
      await page.getByText("3 件のグループを作成しました。").waitFor();
      await page.locator("#failed", { hasText: "5 行目「営業部」: この名前のグループはすでにあります。" }).waitFor();
      assert.equal(await page.inputValue("#names"), "営業部");
      await shot(t, page, "admin-groups-bulk-ja");
      for (const n of ["総務部", "人事部", "経理部"]) await groupNamed(n);
      assert.equal((await groupsNamed("営業部")).length, 1);
      // All new: back to the list, which says how many.
      await page.fill("#names", "法務部\n広報部");
      await Promise.all([
        page.waitForURL("**/admin/groups?done=created&n=2"),
        page.getByRole("button", { name: "一括で作成する" }).click(),
      ]);
      await page.getByText("2 件のグループを作成しました。").waitFor();
      await page.locator("#groups", { hasText: "広報部" }).waitFor();
      await shot(t, page, "admin-groups-ja");
      await groupNamed("法務部");
      await groupNamed("広報部");
      await context.close();
    });

    test("operation 3: create groups from a CSV file, with the per-row report (csv 登録)", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups`);
      await page.getByRole("link", { name: "一括作成（CSV 登録）" }).click();
      await page.waitForURL("**/admin/groups/import");
      // A file with the wrong header: refused whole, nothing created.
      await page.setInputFiles("#file", {
        name: "groups.csv",
        mimeType: "text/csv",
        buffer: Buffer.from("name,members\n誤り部,\n"),
      });
      const [bad] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "登録する" }).click(),
      ]);
      assert.equal(bad.status(), 400);
      await page.getByText("CSV ファイルを読めませんでした").waitFor();
      assert.equal((await groupsNamed("誤り部")).length, 0);
      // A file past the 1 MB limit: 413 with a sentence, nothing created.
      const big = "group_name,members\n" + "巨大部,\n" + `${"x".repeat(99)},\n`.repeat(11000);
      await page.setInputFiles("#file", { name: "big.csv", mimeType: "text/csv", buffer: Buffer.from(big) });
      const [tooBig] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "登録する" }).click(),
      ]);
      assert.equal(tooBig.status(), 413);
      await page.getByText("ファイルが大きすぎます。").waitFor();
      assert.equal((await groupsNamed("巨大部")).length, 0);

      const csv =
        "\ufeffgroup_name,members\n" +
        `開発部,${mail("01")};${mail("02")}\n` +
        `総務部,${mail("03")}\n` +
        `品質保証部,${mail("04")};nobody@${slug}.example.com\n`;
      await page.setInputFiles("#file", { name: "groups.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "登録する" }).click(),
      ]);
      assert.equal(res.status(), 200);
      await page
        .locator("#summary", { hasText: "作成したグループ: 2 件　既存のグループ（メンバーを追加）: 1 件　問題のあった行: 1 件" })
        .waitFor();
      const row = page.locator("#failed tbody tr");
      assert.equal(await row.count(), 1);
      assert.equal(await row.locator("td").first().innerText(), "4");
      assert.match(await row.locator("td").nth(1).innerText(), /メンバーの一部を追加できませんでした.*nobody@/);
      await shot(t, page, "admin-groups-import-ja");
      assert.deepEqual(await memberNames((await groupNamed("開発部")).id), ["社員 01", "社員 02"]);
      assert.deepEqual(await memberNames((await groupNamed("総務部")).id), ["社員 03"]);
      assert.deepEqual(await memberNames((await groupNamed("品質保証部")).id), ["社員 04"]);
      await context.close();
    });

    test("operation 4: change a group — rename, add members, remove members (既存グループの変更)", async () => {
      const dev = await groupNamed("開発部");
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups`);
      await page.getByRole("link", { name: "開発部", exact: true }).click();
      await page.locator("#name", { hasText: "開発部" }).waitFor();
      // Rename.
      await page.fill("#group_name", "開発本部");
      await Promise.all([
        page.waitForURL("**?done=renamed"),
        page.getByRole("button", { name: "変更する" }).click(),
      ]);
      await page.getByText("名前を変更しました。").waitFor();
      assert.equal((await get(`/v1/groups/${dev.id}`)).json.name, "開発本部");
      // Add: find users, tick two, add them. A member is shown as such, with no checkbox.
      await page.fill("#uq", "staff0");
      await Promise.all([page.waitForURL(/uq=staff0/), page.getByRole("button", { name: "探す" }).click()]);
      const candidates = page.locator("#candidates");
      assert.equal(await candidates.getByRole("checkbox", { name: "社員 01" }).count(), 0, "already a member");
      await candidates.locator("tr", { hasText: "社員 01" }).getByText("所属済み").waitFor();
      await candidates.getByRole("checkbox", { name: "社員 05" }).check();
      await candidates.getByRole("checkbox", { name: "社員 06" }).check();
      await Promise.all([
        page.waitForURL("**?done=added&n=2"),
        page.getByRole("button", { name: "選択したユーザーを追加する" }).click(),
      ]);
      await page.getByText("2 人をグループに追加しました。").waitFor();
      await page.locator("#count", { hasText: "4" }).waitFor();
      await shot(t, page, "admin-group-ja");
      assert.deepEqual(await memberNames(dev.id), ["社員 01", "社員 02", "社員 05", "社員 06"]);
      // Remove one.
      await page.locator("#members").getByRole("checkbox", { name: "社員 02" }).check();
      await Promise.all([
        page.waitForURL("**?done=removed&n=1"),
        page.getByRole("button", { name: "選択したユーザーをグループから外す" }).click(),
      ]);
      await page.getByText("1 人をグループから外しました。").waitFor();
      assert.deepEqual(await memberNames(dev.id), ["社員 01", "社員 05", "社員 06"]);
      // A name another group has: refused with a sentence, the name unchanged.
      await page.fill("#group_name", "総務部");
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "変更する" }).click(),
      ]);
      assert.equal(res.status(), 409);
      await page.getByText("この名前のグループはすでにあります。").waitFor();
      assert.equal((await get(`/v1/groups/${dev.id}`)).json.name, "開発本部");
      await context.close();
    });

    test("operation 7: remove users from a group (既存グループからユーザーを外す); they stay users", async () => {
      const soumu = await groupNamed("総務部");
      const add = await post(`/v1/groups/${soumu.id}/members`, { user_ids: [staff["07"].id, staff["08"].id] });
      assert.equal(add.status, 200, JSON.stringify(add.json));
      assert.deepEqual(await memberNames(soumu.id), ["社員 03", "社員 07", "社員 08"]);
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups/${soumu.id}`);
      // Nothing ticked: said in words, nothing changed.
      const [none] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "選択したユーザーをグループから外す" }).click(),
      ]);
      assert.equal(none.status(), 400);
      await page.getByText("ユーザーが選ばれていません。").waitFor();
      const members = page.locator("#members");
      await members.getByRole("checkbox", { name: "社員 07" }).check();
      await members.getByRole("checkbox", { name: "社員 08" }).check();
      await Promise.all([
        page.waitForURL("**?done=removed&n=2"),
        page.getByRole("button", { name: "選択したユーザーをグループから外す" }).click(),
      ]);
      await page.getByText("2 人をグループから外しました。").waitFor();
      assert.equal(await members.getByRole("checkbox", { name: "社員 07" }).count(), 0);
      assert.deepEqual(await memberNames(soumu.id), ["社員 03"]);
      for (const n of ["07", "08"]) {
        const u = await get(`/v1/users/${staff[n].id}`);
        assert.equal(u.status, 200, "still a user");
        assert.ok(!u.json.group_ids.includes(soumu.id), "no longer in the group");
      }
      await context.close();
    });

    test("operation 5: delete a group, after a confirmation that it cannot be undone (グループを削除する)", async () => {
      const qa = await groupNamed("品質保証部");
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups/${qa.id}`);
      await page.getByRole("link", { name: "削除する…" }).click();
      await page.getByRole("heading", { name: "1 件のグループを削除しますか？" }).waitFor();
      await page.getByText("この操作は取り消せません。").waitFor();
      await page.locator("#doomed", { hasText: "品質保証部（メンバー 1 人）" }).waitFor();
      await shot(t, page, "admin-groups-delete-ja");
      assert.equal((await get(`/v1/groups/${qa.id}`)).status, 200, "nothing deleted before the confirmation");
      await Promise.all([
        page.waitForURL("**/admin/groups?done=deleted&n=1"),
        page.getByRole("button", { name: "削除する（取り消せません）" }).click(),
      ]);
      await page.getByText("1 件のグループを削除しました。").waitFor();
      assert.equal((await get(`/v1/groups/${qa.id}`)).status, 404);
      assert.equal((await get(`/v1/users/${staff["04"].id}`)).status, 200, "its member stays a user");
      // The group's page is gone too.
      const gone = await page.goto(`${t.base}/admin/groups/${qa.id}`);
      assert.equal(gone.status(), 404);
      await context.close();
    });

    test("operation 6: delete several groups at once (グループを一括削除する)", async () => {
      const doomed = [await groupNamed("人事部"), await groupNamed("経理部")];
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/groups`);
      await page.getByRole("checkbox", { name: "人事部", exact: true }).check();
      await page.getByRole("checkbox", { name: "経理部", exact: true }).check();
      await Promise.all([
        page.waitForURL(/\/admin\/groups\/delete\?/),
        page.getByRole("button", { name: "選択したグループを削除する" }).click(),
      ]);
      await page.getByRole("heading", { name: "2 件のグループを削除しますか？" }).waitFor();
      await Promise.all([
        page.waitForURL("**/admin/groups?done=deleted&n=2"),
        page.getByRole("button", { name: "削除する（取り消せません）" }).click(),
      ]);
      await page.getByText("2 件のグループを削除しました。").waitFor();
      for (const g of doomed) assert.equal((await get(`/v1/groups/${g.id}`)).status, 404);
      await groupNamed("法務部"); // the others stay
      // A POST without the form's CSRF token is refused.
      const other = await groupNamed("広報部");
      const forged = await page.request.post(`${t.base}/admin/groups/delete`, {
        form: { id: other.id },
        maxRedirects: 0,
      });
      assert.equal(forged.status(), 403);
      assert.equal((await get(`/v1/groups/${other.id}`)).status, 200, "not deleted");
      await context.close();
    });

    test("a role without the settings permission sees neither the group pages nor their buttons, and its POSTs are refused", async () => {
      // The built-in 担当者 role: settings at view only.
      const c = await post("/v1/users", { name: "閲覧 五郎", login_id: "etsuran.goro", delivery: "generated", role_id: "staff" });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: "etsuran.goro", password: c.json.initial_password });
      assert.equal(s.status, 200);
      const changed = await api(
        t,
        "POST",
        "/v1/me/password",
        { current_password: c.json.initial_password, new_password: OTHER_PASSWORD },
        s.json.token,
      );
      assert.equal(changed.status, 204, JSON.stringify(changed.json));
      const target = await groupNamed("法務部");
      const before = await get(`/v1/groups?limit=200`);
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, "etsuran.goro", OTHER_PASSWORD);
      await page.locator("#name", { hasText: "閲覧 五郎" }).waitFor();
      assert.equal(await page.locator("#console").count(), 0, "no link to the console");
      assert.equal(await page.locator("a[href^='/admin/groups']").count(), 0, "no link to the group pages");
      for (const p of [
        "/admin/groups",
        "/admin/groups/new",
        "/admin/groups/bulk",
        "/admin/groups/import",
        `/admin/groups/${target.id}`,
        `/admin/groups/delete?id=${target.id}`,
      ]) {
        const res = await page.goto(`${t.base}${p}`);
        assert.equal(res.status(), 403, p);
        await page.getByText("この操作の権限がありません").first().waitFor();
        assert.equal(await page.locator("form[action^='/admin']").count(), 0, p);
        assert.equal(await page.getByRole("button", { name: /作成|削除|追加|外す|変更|登録/ }).count(), 0, p);
      }
      // The session's own CSRF token (from the account page's forms) does not open the group POSTs.
      await page.goto(`${t.base}/account`);
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const forms = [
        ["/admin/groups", { csrf, name: "不正グループ" }],
        ["/admin/groups/bulk", { csrf, names: "不正一括" }],
        [`/admin/groups/${target.id}/name`, { csrf, name: "改名不正" }],
        [`/admin/groups/${target.id}/members`, { csrf, user_id: staff["01"].id }],
        [`/admin/groups/${target.id}/members/remove`, { csrf, user_id: staff["01"].id }],
        ["/admin/groups/delete", { csrf, id: target.id }],
      ];
      for (const [p, form] of forms) {
        const res = await page.request.post(`${t.base}${p}`, { form, maxRedirects: 0 });
        assert.equal(res.status(), 403, p);
      }
      const upload = await page.request.post(`${t.base}/admin/groups/import`, {
        multipart: {
          csrf,
          file: { name: "g.csv", mimeType: "text/csv", buffer: Buffer.from("group_name,members\n不正CSV,\n") },
        },
        maxRedirects: 0,
      });
      assert.equal(upload.status(), 403, "/admin/groups/import");
      const after = await get(`/v1/groups?limit=200`);
      assert.deepEqual(after.json.items, before.json.items, "no group created, renamed or deleted");
      assert.equal((await get(`/v1/groups/${target.id}`)).json.member_count, target.member_count);
      await context.close();
    });
  });
}
