// Browser tests of the admin console's logs and export (issue 17): the operation log and the mail-send log
// in JST with a day filter and paging, and the user list exported as a CSV that Excel opens (UTF-8 with a BOM,
// or Shift_JIS), formulas neutralised. A role without the log permission sees neither the pages nor the links.
// Run by tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { TARGETS, DESKTOP, useBrowser, api, tenantWithAdmin, newPage, signIn, shot } from "./lib.mjs";

useBrowser();

const OTHER_PASSWORD = "hoshi kumo kaze hikari 2026";
/** Today's date in Japan, as the day filter takes it. */
const jstDay = (offsetDays = 0) => new Date(Date.now() + 9 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);

for (const t of TARGETS) {
  describe(`console logs and export on ${t.name}`, () => {
    const slug = t.outbox ? "logs-demo" : `lg-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const post = (p, body) => api(t, "POST", p, body, admin.token);

    /** A user made through the API, signed in once so their first password is their own. */
    async function userWithPassword(name, loginId, roleId) {
      const c = await post("/v1/users", { name, login_id: loginId, delivery: "generated", role_id: roleId });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const s = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: loginId, password: c.json.initial_password });
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

    async function adminPage() {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    /** Clicks a download link and returns the file's bytes. */
    async function download(page, selector) {
      const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
      assert.equal(d.suggestedFilename(), "users.csv");
      return fs.readFileSync(await d.path());
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社ログ試験", "管理 花子", 80);
      // 52 invitations: 52 operations and 52 mails, more than one page (50) of each log.
      const ids = [];
      for (let i = 1; i <= 52; i++) {
        const n = String(i).padStart(2, "0");
        const c = await post("/v1/users", { name: `職員 ${n}`, email: `member${n}@${slug}.example.com`, delivery: "invite_link" });
        assert.equal(c.status, 201, JSON.stringify(c.json));
        ids.push(c.json.user.id);
      }
      // A name a spreadsheet would take for a formula, and one Shift_JIS cannot write (in a group of its own).
      const formula = await post("/v1/users", { name: "=HYPERLINK(\"http://x\")", login_id: "formula.user", delivery: "generated" });
      assert.equal(formula.status, 201, JSON.stringify(formula.json));
      const emoji = await post("/v1/users", { name: "絵文字 🎉", login_id: "emoji.user", delivery: "generated" });
      assert.equal(emoji.status, 201, JSON.stringify(emoji.json));
      const g = await post("/v1/groups", { name: "総務部", member_ids: [ids[0], ids[1], formula.json.user.id] });
      assert.equal(g.status, 201, JSON.stringify(g.json));
      const e = await post("/v1/groups", { name: "絵文字班", member_ids: [emoji.json.user.id] });
      assert.equal(e.status, 201, JSON.stringify(e.json));
    });

    test("the operation log: newest first in JST, a page at a time, filtered by days", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users`);
      await Promise.all([page.waitForURL("**/admin/audit-log"), page.locator("nav.console").getByRole("link", { name: "操作ログ" }).click()]);
      const rows = page.locator("#log tbody tr");
      assert.equal(await rows.count(), 50, "50 entries a page");
      const first = await rows.first().locator("td").allInnerTexts();
      assert.match(first[0], /^\d{4}-\d\d-\d\d \d\d:\d\d \(JST\)$/);
      assert.equal(first[1], "管理 花子", "the actor by name");
      // The newest first: the last group, made with a member (two entries).
      assert.equal(first[2], "グループにメンバー追加");
      assert.equal((await rows.nth(1).locator("td").allInnerTexts())[2], "グループ作成");
      assert.equal(first[4], "成功");
      await shot(t, page, "admin-audit-log-ja");
      await Promise.all([page.waitForURL(/cursor=/), page.click("#next")]);
      const older = await rows.allInnerTexts();
      assert.ok(older.length >= 5, `the rest on the second page (${older.length})`);
      assert.ok(older.some((r) => r.includes("ユーザー登録")));
      // The day filter: today holds everything, tomorrow nothing.
      await page.goto(`${t.base}/admin/audit-log`);
      await page.fill("#from", jstDay(1));
      await Promise.all([page.waitForURL(/from=/), page.getByRole("button", { name: "絞り込む" }).click()]);
      await page.locator("#empty").waitFor();
      await page.goto(`${t.base}/admin/audit-log?from=${jstDay()}&to=${jstDay()}`);
      assert.equal(await rows.count(), 50);
      // A date that is not one: the form again with the reason, 400.
      const bad = await page.goto(`${t.base}/admin/audit-log?from=2026-13-45`);
      assert.equal(bad.status(), 400);
      await page.getByText("「2026-13-45」は日付（例: 2026-12-01）ではありません。").waitFor();
      const reversed = await page.goto(`${t.base}/admin/audit-log?from=${jstDay()}&to=${jstDay(-1)}`);
      assert.equal(reversed.status(), 400);
      await context.close();
    });

    test("the mail-send log: each invitation with its recipient and state", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/audit-log`);
      await Promise.all([page.waitForURL("**/admin/mail-log"), page.getByRole("link", { name: "メール送信ログへ" }).click()]);
      const rows = page.locator("#log tbody tr");
      assert.equal(await rows.count(), 50);
      const newest = await rows.first().locator("td").allInnerTexts();
      assert.equal(newest[1], `member52@${slug}.example.com`);
      assert.equal(newest[2], "招待");
      assert.equal(newest[3], "送信済み");
      await shot(t, page, "admin-mail-log-ja");
      await Promise.all([page.waitForURL(/cursor=/), page.click("#next")]);
      // 52 invitations and the admin's own: 3 on the second page, the oldest the admin's.
      const older = await rows.locator("td:nth-child(2)").allInnerTexts();
      assert.deepEqual(older, [`member02@${slug}.example.com`, `member01@${slug}.example.com`, admin.email]);
      // The same in English.
      await page.goto(`${t.base}/admin/mail-log?lang=en`);
      await page.getByRole("heading", { name: "Mail log" }).waitFor();
      assert.equal((await rows.first().locator("td").allInnerTexts())[2], "invitation");
      await context.close();
    });

    test("the user list exported for Excel: UTF-8 with a BOM or Shift_JIS, the list's filter, formulas escaped", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users`);
      const utf8 = await download(page, "#export");
      assert.deepEqual([...utf8.subarray(0, 3)], [0xef, 0xbb, 0xbf], "a BOM, so Excel reads UTF-8");
      const lines = utf8.subarray(3).toString("utf8").split("\r\n").filter((l) => l);
      assert.equal(lines[0], "name,email,login_id,role,groups,org_admin,status,created");
      const tenant = (await get("/v1/tenant")).json;
      assert.equal(lines.length - 1, tenant.seats_used, "every user of the tenant");
      assert.ok(lines.includes(`職員 01,member01@${slug}.example.com,,一般,総務部,no,invited,${lines.find((l) => l.startsWith("職員 01")).split(",")[7]}`));
      assert.match(lines.find((l) => l.startsWith("職員 01")), /,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$/, "created in JST");
      const f = lines.find((l) => l.includes("formula.user"));
      assert.ok(f.startsWith(`"'=HYPERLINK(""http://x"")"`), `a formula is shown as text: ${f}`);
      assert.ok(lines.some((l) => l.startsWith(`管理 花子,${admin.email},,管理者,,yes,active,`)));

      // The group filter carries over to the export, here in Shift_JIS.
      await page.selectOption("#group", { label: "総務部" });
      await Promise.all([page.waitForURL(/group=/), page.getByRole("button", { name: "絞り込む" }).click()]);
      const sjis = await download(page, "#export-sjis");
      assert.notEqual(sjis[0], 0xef, "no BOM in Shift_JIS");
      const text = new TextDecoder("shift_jis").decode(sjis);
      const rows = text.split("\r\n").filter((l) => l);
      assert.equal(rows.length, 4, "the header and the group's three members");
      assert.ok(rows.some((l) => l.startsWith("職員 02,")), text);
      assert.ok(rows.every((l) => !l.includes("\ufffd")), "every character written");

      // A name Shift_JIS cannot write: a clear page, no file with a "?" in it.
      const g = (await get("/v1/groups")).json.items.find((x) => x.name === "絵文字班");
      const refused = await page.goto(`${t.base}/admin/users/export?group=${g.id}&encoding=cp932`);
      assert.equal(refused.status(), 422);
      await page.getByText("UTF-8 でダウンロードしてください").waitFor();
      await context.close();
    });

    test("the log pages follow the log permission: a staff member reads them, a member sees neither pages nor links", async () => {
      await userWithPassword("担当 一郎", "tantou.ichiro", "staff"); // audit log: view; settings: view
      await userWithPassword("一般 二郎", "ippan.jiro", "member"); // no audit log
      {
        const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
        await signIn(t, page, slug, "tantou.ichiro", OTHER_PASSWORD);
        assert.equal(await page.locator("#console").count(), 0, "no link to the user pages");
        await Promise.all([page.waitForURL("**/admin/audit-log"), page.getByRole("link", { name: "操作ログ" }).click()]);
        assert.equal(await page.locator("#log tbody tr").count(), 50);
        assert.equal(await page.locator("nav.console").getByRole("link", { name: "ユーザー一覧" }).count(), 0);
        const users = await page.goto(`${t.base}/admin/users/export`);
        assert.equal(users.status(), 403, "the export is a settings page");
        await context.close();
      }
      {
        const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
        await signIn(t, page, slug, "ippan.jiro", OTHER_PASSWORD);
        assert.equal(await page.getByRole("link", { name: "操作ログ" }).count(), 0);
        for (const p of ["/admin/audit-log", "/admin/mail-log", "/admin/users/export"]) {
          const res = await page.goto(`${t.base}${p}`);
          assert.equal(res.status(), 403, p);
          assert.equal(await page.locator("#log").count(), 0, p);
        }
        await context.close();
      }
    });
  });
}
