// Browser tests of the admin console's registration from a CSV file (issue 17, operation 10): a Shift_JIS
// (CP932) file as Excel saves it, its preview (nothing written, checked through the API), the import with
// generated passwords shown once, a file large enough to run in the background with its progress page and
// its per-row report as a CSV download; and a role without the permission sees no link and has its POSTs
// refused. Run by tests/scripts/browser.sh against both backends (see lib.mjs).

import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { TARGETS, DESKTOP, useBrowser, api, tenantWithAdmin, newPage, signIn, shot, pathOf } from "./lib.mjs";

useBrowser();

const OTHER_PASSWORD = "hoshi kumo kaze hikari 2026";
/** The most rows the console imports in the request (http/console/user_import.rs SYNC_ROWS). */
const SYNC_ROWS = 1000;

/** Text as Excel in Japan saves a CSV: CP932 (the encoder is the inverse of the browser's decoder). */
function cp932(text) {
  const dec = new TextDecoder("shift_jis", { fatal: true });
  const table = new Map();
  for (let lead = 0x81; lead <= 0xfc; lead++) {
    if (lead > 0x9f && lead < 0xe0) continue;
    for (let trail = 0x40; trail <= 0xfc; trail++) {
      if (trail === 0x7f) continue;
      let ch;
      try {
        ch = dec.decode(Uint8Array.of(lead, trail));
      } catch {
        continue;
      }
      if (!table.has(ch)) table.set(ch, [lead, trail]);
    }
  }
  const out = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) {
      out.push(c);
    } else {
      const b = table.get(ch);
      assert.ok(b, `no CP932 for ${ch}`);
      out.push(...b);
    }
  }
  return Buffer.from(out);
}

for (const t of TARGETS) {
  describe(`admin console, CSV registration, on ${t.name}`, () => {
    // A fixed slug on the fresh embedded store keeps the screenshots the same from run to run.
    const slug = t.outbox ? "import-demo" : `im-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    const SEATS = 60;
    let admin; // {slug, email, token}
    const get = (p) => api(t, "GET", p, undefined, admin.token);
    const mail = (n) => `${n}@${slug}.example.com`;

    async function adminPage() {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      return { context, page };
    }

    async function findUser(q) {
      const r = await get(`/v1/users?q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200);
      return r.json.items;
    }

    async function groupsNamed(name) {
      const r = await get(`/v1/groups?limit=200&q=${encodeURIComponent(name)}`);
      assert.equal(r.status, 200);
      return r.json.items.filter((g) => g.name === name);
    }

    /** Chooses a file on the import form and sends it; the preview's answer. */
    async function previewFile(page, buffer, delivery) {
      await page.goto(`${t.base}/admin/users/import`);
      await page.setInputFiles("#file", { name: "users.csv", mimeType: "text/csv", buffer });
      if (delivery) await page.check(`input[name=delivery][value=${delivery}]`);
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "内容を確認する" }).click(),
      ]);
      return res;
    }

    /** Clicks a download link and returns the file's name and bytes. */
    async function download(page, selector) {
      const [d] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
      return { name: d.suggestedFilename(), bytes: fs.readFileSync(await d.path()) };
    }

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社一括登録試験", "管理 一郎", SEATS);
      // A user of the built-in 担当者 role (settings at view only), made before the seats run out.
      const c = await api(
        t,
        "POST",
        "/v1/users",
        { name: "閲覧 五郎", login_id: "etsuran.goro", delivery: "generated", role_id: "staff" },
        admin.token,
      );
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
    });

    test("operation 10: a CP932 file is previewed (nothing written), then imported; generated passwords shown once", async () => {
      const { context, page } = await adminPage();
      await page.goto(`${t.base}/admin/users`);
      await page.getByRole("link", { name: "CSV ファイルで一括登録する" }).click();
      await page.waitForURL("**/admin/users/import");
      await shot(t, page, "admin-users-import-form-ja");

      // A file the import refuses whole (a wrong header): said in words, nothing written.
      const bad = await previewFile(page, Buffer.from("氏名,メール\n山田,yamada@example.com\n"));
      assert.equal(bad.status(), 400);
      await page.getByText("CSV ファイルを読めませんでした").waitFor();

      const csv =
        "name,email,login_id,role,groups\r\n" +
        `山田 花子,${mail("hanako")},,,新設部\r\n` +
        `,${mail("nobody")},,,\r\n` +
        "現場 四郎,,genba.shiro,,新設部\r\n" +
        `重複 花子,${mail("hanako")},,,\r\n` +
        `役割不明,${mail("role")},,社長,\r\n` +
        `既存,${admin.email},,,\r\n`;
      const before = (await get("/v1/tenant")).json;
      const res = await previewFile(page, cp932(csv), "generated");
      assert.equal(res.status(), 200);
      await page.getByRole("heading", { name: "登録内容の確認" }).waitFor();
      assert.equal(await page.locator("#to-create").innerText(), "2 人");
      assert.equal(await page.locator("#to-fail").innerText(), "4 行");
      assert.equal(
        await page.locator("#seats").innerText(),
        `現在 ${before.seats_used} / ${SEATS} を使用中、登録後の残り ${SEATS - before.seats_used - 2}`,
      );
      assert.equal(await page.locator("#new-groups").innerText(), "新設部");
      const reasons = await page.locator("#failed tbody tr").evaluateAll((rows) =>
        rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.innerText)),
      );
      assert.deepEqual(
        reasons.map((r) => r[0]),
        ["3", "5", "6", "7"],
      );
      assert.match(reasons[0][1], /氏名/);
      assert.match(reasons[1][1], /ファイルの前の行にもあります/);
      assert.match(reasons[2][1], /role 列のロールがありません/);
      assert.match(reasons[3][1], /すでにほかのユーザーが使っています/);
      const toCreate = await page.locator("#create tbody tr td:nth-child(2)").allInnerTexts();
      assert.deepEqual(toCreate, ["山田 花子", "現場 四郎"], "the names decoded from CP932");
      await shot(t, page, "admin-users-import-preview-ja");
      // The preview wrote nothing: no user, no group, no seat.
      assert.equal((await findUser(mail("hanako"))).length, 0);
      assert.equal((await findUser("genba.shiro")).length, 0);
      assert.equal((await groupsNamed("新設部")).length, 0);
      assert.equal((await get("/v1/tenant")).json.seats_used, before.seats_used);

      // Confirm: the users are created, their passwords shown on this answer.
      const [done] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.getByRole("button", { name: "2 人を登録する" }).click(),
      ]);
      assert.equal(done.status(), 200);
      await page
        .locator("#summary", { hasText: "登録したユーザー: 2 人　登録できなかった行: 4 行" })
        .waitFor();
      await page.getByText("発行したパスワードは今だけ表示され").waitFor();
      const hanakoPw = await page.inputValue("#pw-2");
      const shiroPw = await page.inputValue("#pw-4");
      assert.ok(hanakoPw.length >= 12 && shiroPw.length >= 12 && hanakoPw !== shiroPw);
      assert.equal(await page.locator("button[data-copy]").first().isVisible(), false, "no copy button without JavaScript");
      await shot(t, page, "admin-users-import-result-ja");
      const [hanako] = await findUser(mail("hanako"));
      assert.equal(hanako.name, "山田 花子");
      assert.equal((await groupsNamed("新設部"))[0].member_count, 2);
      assert.equal((await get("/v1/tenant")).json.seats_used, before.seats_used + 2);
      const login = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: "genba.shiro", password: shiroPw });
      assert.equal(login.status, 200, "the shown password signs in");
      assert.equal(login.json.user.must_change_password, true);

      // The report with the passwords: a CSV carried by the page itself, for Excel (UTF-8 with a BOM).
      const report = await download(page, "#download");
      assert.equal(report.name, "import-report.csv");
      assert.deepEqual([...report.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      const lines = report.bytes.toString("utf8").slice(1).trim().split("\r\n");
      assert.equal(lines[0], "line,result,name,login,initial_password,code,reason");
      assert.equal(lines.length, 1 + 6, "one line a row");
      assert.ok(lines.includes(`2,created,山田 花子,${mail("hanako")},${hanakoPw},,`), lines.join("\n"));
      assert.ok(lines.includes(`4,created,現場 四郎,genba.shiro,${shiroPw},,`), lines.join("\n"));
      assert.ok(lines.some((l) => l.startsWith("5,failed,重複 花子,,,email_taken,")), lines.join("\n"));

      // Shown once: the page's address again shows the empty form, and the user's page no password.
      await page.goto(`${t.base}${pathOf(page)}`);
      await page.getByRole("heading", { name: "CSV ファイルを使ってユーザーを一括登録する" }).waitFor();
      let html = await page.content();
      assert.ok(!html.includes(hanakoPw) && !html.includes(shiroPw), "not shown again");
      await page.goto(`${t.base}/admin/users/${hanako.id}`);
      html = await page.content();
      assert.ok(!html.includes(hanakoPw), "not on the user's page");
      await context.close();
    });

    test("a role without the settings permission sees no import link, and its POSTs are refused", async () => {
      const seats = (await get("/v1/tenant")).json.seats_used;
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, "etsuran.goro", OTHER_PASSWORD);
      await page.locator("#name", { hasText: "閲覧 五郎" }).waitFor();
      assert.equal(await page.locator("a[href^='/admin/users']").count(), 0, "no link to the user pages");
      for (const p of ["/admin/users", "/admin/users/import"]) {
        const res = await page.goto(`${t.base}${p}`);
        assert.equal(res.status(), 403, p);
        await page.getByText("この操作の権限がありません").first().waitFor();
        assert.equal(await page.locator("a[href='/admin/users/import']").count(), 0, p);
        assert.equal(await page.locator("form[action^='/admin']").count(), 0, p);
      }
      // The session's own CSRF token (from the account page's forms) does not open the import's POSTs.
      await page.goto(`${t.base}/account`);
      const csrf = await page.locator("input[name=csrf]").first().getAttribute("value");
      const file = Buffer.from(`name,email\n不正 登録,${mail("forged")}\n`);
      const preview = await page.request.post(`${t.base}/admin/users/import/preview`, {
        multipart: { csrf, delivery: "generated", file: { name: "u.csv", mimeType: "text/csv", buffer: file } },
        maxRedirects: 0,
      });
      assert.equal(preview.status(), 403, "/admin/users/import/preview");
      const confirm = await page.request.post(`${t.base}/admin/users/import`, {
        multipart: { csrf, delivery: "generated", filename: "u.csv", data: file.toString("base64") },
        maxRedirects: 0,
      });
      assert.equal(confirm.status(), 403, "/admin/users/import");
      assert.equal((await findUser(mail("forged"))).length, 0, "nobody created");
      assert.equal((await get("/v1/tenant")).json.seats_used, seats);
      await context.close();
    });
    test("operation 10: a file of more rows than the console imports at once runs in the background: progress, then the report and its CSV", async () => {
      const { context, page } = await adminPage();
      const tenant = (await get("/v1/tenant")).json;
      const free = tenant.seat_limit - tenant.seats_used;
      const rows = SYNC_ROWS + 5;
      let csv = "name,email,login_id,role,groups\r\n";
      for (let i = 1; i <= rows; i++) {
        const n = String(i).padStart(4, "0");
        csv += `社員 ${n},${mail(`bulk${n}`)},,,\r\n`;
      }
      // Passwords are generated for at most 30 rows at a time: refused with a sentence, nothing written.
      const refused = await previewFile(page, cp932(csv), "generated");
      assert.equal(refused.status(), 400);
      await page.getByText(`パスワードを発行できるのは 1 回 30 行までです（このファイルは ${rows} 行）`).waitFor();
      // Links by mail: the file runs in the background, and the preview says so.
      const res = await previewFile(page, cp932(csv));
      assert.equal(res.status(), 200);
      await page.locator("#background", { hasText: "バックグラウンドで登録します" }).waitFor();
      await page.locator("#background", { hasText: "設定用リンクをメールで送ります" }).waitFor();
      assert.equal(await page.locator("#to-create").innerText(), `${free} 人`);
      assert.equal(await page.locator("#to-fail").innerText(), `${rows - free} 行`);
      assert.equal((await findUser(mail("bulk0001"))).length, 0, "nothing written by the preview");

      await Promise.all([
        page.waitForURL(/\/admin\/users\/imports\/[^/]+$/),
        page.getByRole("button", { name: `${free} 人を登録する` }).click(),
      ]);
      const id = pathOf(page).split("/").pop();
      await page.locator("#progress").waitFor();
      await shot(t, page, "admin-users-import-progress-ja");
      // The page reloads itself (a meta refresh, no JavaScript) until the import has ended.
      await page.locator("#import[data-status=ended]").waitFor({ timeout: 180_000 });
      await page
        .locator("#summary", { hasText: `登録したユーザー: ${free} 人　登録できなかった行: ${rows - free} 行` })
        .waitFor();
      assert.equal(await page.locator("#progress").getAttribute("value"), "100");
      assert.equal(await page.locator("#failed tbody tr").count(), 20, "the first 20 failed rows");
      assert.match(await page.locator("#failed tbody tr td").nth(1).innerText(), /契約のシートが足りません/);
      await page.locator("#more-failed", { hasText: `ほか ${rows - free - 20} 行` }).waitFor();
      await shot(t, page, "admin-users-import-status-ja");
      const view = await get(`/v1/imports/${id}`);
      assert.equal(view.status, 200);
      assert.equal(view.json.status, "done");
      assert.equal(view.json.created, free);
      assert.equal((await get("/v1/tenant")).json.seats_used, tenant.seat_limit);
      assert.equal((await findUser(mail("bulk0001"))).length, 1);
      assert.equal((await findUser(mail(`bulk${String(rows).padStart(4, "0")}`))).length, 0);

      // The per-row report: every failed row, for Excel.
      const report = await download(page, "#report");
      assert.equal(report.name, `import-${id}-report.csv`);
      assert.deepEqual([...report.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      const lines = report.bytes.toString("utf8").slice(1).trim().split("\r\n");
      assert.equal(lines[0], "line,result,code,reason,message");
      assert.equal(lines.length, 1 + rows - free);
      assert.match(lines[1], new RegExp(`^${free + 2},failed,seat_limit_reached,契約のシートが足りません。,`));
      await context.close();
    });

  });
}
