// Browser test of single sign-on (issue 21) through a real OpenID provider: oidc-provider (tests/oidc, an
// OpenID Certified implementation) started here on a loopback port with one client whose redirect URIs are
// every target's /sso/callback. An org admin configures it on the console page; an employee signs in with
// the provider's button on the login page and lands on their account page; an unverified e-mail, an
// identity without a Kanri account and a disabled user end on a page saying why; `required` mode refuses a
// non-admin's password login while the org admin keeps theirs. Run by tests/scripts/browser.sh against both
// backends (see lib.mjs).

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TARGETS, DESKTOP, PASSWORD, useBrowser, api, tenantWithAdmin, newPage, signIn, shot } from "./lib.mjs";

useBrowser();

const OIDC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "oidc");
const DOMAIN = "sso-test.example.co.jp";
const CLIENT_ID = "kanri-browser-test";
const CLIENT_SECRET = `secret-${Date.now().toString(36)}`;
const ACCOUNTS = {
  taro: { email: `taro@${DOMAIN}`, email_verified: true, name: "山田 太郎" },
  hanako: { email: `hanako@${DOMAIN}`, email_verified: false, name: "佐藤 花子" },
  jiro: { email: `jiro@${DOMAIN}`, email_verified: true, name: "鈴木 次郎" },
  saburo: { email: `saburo@${DOMAIN}`, email_verified: true, name: "高橋 三郎" },
};

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

let provider; // the child process
let issuer;

before(async () => {
  if (!fs.existsSync(path.join(OIDC_DIR, "node_modules", "oidc-provider"))) {
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: OIDC_DIR, stdio: "inherit" });
  }
  const port = await freePort();
  provider = spawn(process.execPath, ["provider.mjs"], {
    cwd: OIDC_DIR,
    env: {
      ...process.env,
      PORT: String(port),
      REDIRECT_URIS: TARGETS.map((t) => `${t.base}/sso/callback`).join(","),
      CLIENT_ID,
      CLIENT_SECRET,
      ACCOUNTS: JSON.stringify(ACCOUNTS),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  provider.stderr.on("data", (d) => (err += d));
  issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oidc-provider did not start: ${err}`)), 20000);
    provider.stdout.on("data", (d) => {
      const m = String(d).match(/ready (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    provider.on("exit", (code) => reject(new Error(`oidc-provider exited (${code}): ${err}`)));
  });
});

after(() => {
  provider?.kill();
});

/** Signs in at the provider's (development) form as `account`, from Kanri's login page of `slug`. */
async function ssoSignIn(t, page, slug, account) {
  await page.goto(`${t.base}/login?tenant=${slug}`);
  await page.getByRole("link", { name: "テスト IdP でログイン" }).click();
  await page.waitForURL((u) => u.href.startsWith(issuer));
  await page.fill("input[name=login]", account);
  await page.fill("input[name=password]", "any password");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.href.startsWith(t.base));
}

for (const t of TARGETS) {
  describe(`single sign-on through oidc-provider, on ${t.name}`, () => {
    const slug = `sso-${t.name.slice(0, 3)}-${Date.now().toString(36)}`;
    let admin; // {slug, email, token}
    const post = (p, body) => api(t, "POST", p, body, admin.token);

    before(async () => {
      admin = await tenantWithAdmin(t, slug, "株式会社シングルサインオン", "管理 太郎");
      for (const [account, who] of Object.entries(ACCOUNTS)) {
        if (account === "jiro") continue; // an identity with no Kanri account
        const c = await post("/v1/users", { name: who.name, email: who.email, delivery: "invite_link" });
        assert.equal(c.status, 201, JSON.stringify(c.json));
        if (account === "saburo") {
          assert.equal((await post(`/v1/users/${c.json.user.id}/disable`)).status, 200);
        }
      }
    });

    test("an org admin configures the provider on the console page", async () => {
      const { context, page } = await newPage(t, "ja-JP", { viewport: DESKTOP });
      await signIn(t, page, slug, admin.email);
      await page.goto(`${t.base}/admin/sso`);
      await page.getByRole("heading", { name: "シングルサインオン（OpenID Connect）" }).waitFor();
      assert.equal(await page.textContent("#redirect-uri"), `${t.base}/sso/callback`);
      await page.fill("#display_name", "テスト IdP");
      await page.fill("#issuer", issuer);
      await page.fill("#client_id", CLIENT_ID);
      await page.fill("#client_secret", CLIENT_SECRET);
      await page.fill("#allowed_domains", DOMAIN);
      await Promise.all([page.waitForURL(/\/admin\/sso\?done=saved$/), page.getByRole("button", { name: "保存する" }).click()]);
      await page.getByText("シングルサインオンの設定を保存しました。").waitFor();
      await shot(t, page, "admin-sso-ja");
      const cfg = await api(t, "GET", "/v1/tenant/sso", undefined, admin.token);
      assert.equal(cfg.status, 200);
      assert.equal(cfg.json.issuer, issuer);
      assert.equal(cfg.json.client_secret_set, true);
      assert.ok(!JSON.stringify(cfg.json).includes(CLIENT_SECRET), "the secret is never answered");
      assert.deepEqual(cfg.json.allowed_domains, [DOMAIN]);
      assert.equal(cfg.json.mode, "optional");
      await context.close();
    });

    test("an employee signs in through the provider and lands on their account page", async () => {
      const { context, page } = await newPage(t, "ja-JP");
      await page.goto(`${t.base}/login?tenant=${slug}`);
      await shot(t, page, "login-sso-ja");
      await ssoSignIn(t, page, slug, "taro");
      assert.equal(new URL(page.url()).pathname, "/account", await page.textContent("body"));
      await page.getByText(`taro@${DOMAIN}`).first().waitFor();
      await page.getByText("山田 太郎").first().waitFor();
      await shot(t, page, "account-after-sso-ja");
      const cookies = await context.cookies(t.base);
      assert.ok(cookies.some((c) => c.name === "kanri_session" && c.httpOnly), "a session cookie, HttpOnly");
      await context.close();
    });

    test("an unverified e-mail, an identity without an account and a disabled user each get their page", async () => {
      for (const [account, text, code] of [
        ["hanako", "メールアドレスが確認されていません", "sso_email_unverified"],
        ["jiro", "Kanri のアカウントが見つかりません", "sso_no_account"],
        ["saburo", "このアカウントは無効にされています", "sso_user_disabled"],
      ]) {
        const { context, page } = await newPage(t, "ja-JP");
        const responses = [];
        page.on("response", (r) => {
          if (r.url().startsWith(`${t.base}/sso/callback`)) responses.push(r.status());
        });
        await ssoSignIn(t, page, slug, account);
        await page.getByRole("heading", { name: text }).waitFor();
        await page.getByText(`エラーコード: ${code}`).waitFor();
        assert.deepEqual(responses, [403], `${account}: the callback answers 403`);
        assert.ok(!(await context.cookies(t.base)).some((c) => c.name === "kanri_session" && c.value), "no session");
        if (account === "hanako") await shot(t, page, "sso-failed-ja");
        await context.close();
      }
      const log = await api(t, "GET", "/v1/audit-log?limit=100", undefined, admin.token);
      assert.equal(log.status, 200, JSON.stringify(log.json));
      const failed = log.json.items.filter((e) => e.action === "sso.login_failed").map((e) => e.target.id);
      for (const code of ["sso_email_unverified", "sso_no_account", "sso_user_disabled"]) {
        assert.ok(failed.includes(code), `${code} in the operation log: ${JSON.stringify(failed)}`);
      }
      assert.ok(log.json.items.some((e) => e.action === "user.sso_login"), "the success is in the operation log");
    });

    test("required mode refuses a non-admin's password; the org admin keeps theirs", async () => {
      const c = await post("/v1/users", { name: "社員 四郎", login_id: `shiro-${t.name}`, delivery: "generated" });
      assert.equal(c.status, 201, JSON.stringify(c.json));
      const put = await api(t, "PUT", "/v1/tenant/sso", {
        issuer, client_id: CLIENT_ID, display_name: "テスト IdP", allowed_domains: [DOMAIN], mode: "required",
      }, admin.token);
      assert.equal(put.status, 200, JSON.stringify(put.json));
      const refused = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: `shiro-${t.name}`, password: c.json.initial_password });
      assert.equal(refused.status, 403, JSON.stringify(refused.json));
      assert.equal(refused.json.error.code, "sso_required");
      const adminLogin = await api(t, "POST", "/v1/auth/login", { tenant: slug, login: admin.email, password: PASSWORD });
      assert.equal(adminLogin.status, 200, JSON.stringify(adminLogin.json));

      const { context, page } = await newPage(t, "ja-JP");
      await page.goto(`${t.base}/login?tenant=${slug}`);
      await page.fill("#login", `shiro-${t.name}`);
      await page.fill("#password", c.json.initial_password);
      await page.click("form[action='/login'][method=post] button[type=submit]");
      await page.getByText("この組織では、パスワードではなく組織の ID プロバイダーでログインします。").waitFor();
      await page.getByRole("link", { name: "テスト IdP でログイン" }).waitFor();
      await shot(t, page, "login-sso-required-ja");
      // SSO itself still works in required mode.
      await ssoSignIn(t, page, slug, "taro");
      assert.equal(new URL(page.url()).pathname, "/account");
      await context.close();
    });
  });
}
