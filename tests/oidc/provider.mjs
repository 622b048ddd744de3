// A real OpenID provider for Kanri's single sign-on tests (issue 21): oidc-provider (OpenID Certified), on
// loopback only, with one confidential client and a few test accounts. Its development sign-in form takes
// an account id and any password; consent is given at once for the one client.
//
//   PORT=<port> REDIRECT_URIS=<url>[,<url>…] CLIENT_ID=<id> CLIENT_SECRET=<secret> node provider.mjs
//
// Prints `ready <issuer>` on stdout once it listens. Accounts (id → claims) come from ACCOUNTS (JSON) when
// set, else the defaults below.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const redirectUris = (process.env.REDIRECT_URIS || '').split(',').filter(Boolean);
if (!port || redirectUris.length === 0) {
    console.error('PORT and REDIRECT_URIS are required');
    process.exit(2);
}

const accounts = process.env.ACCOUNTS
    ? JSON.parse(process.env.ACCOUNTS)
    : {
          taro: { email: 'taro@example.co.jp', email_verified: true, name: '山田 太郎' },
          hanako: { email: 'hanako@example.co.jp', email_verified: false, name: '佐藤 花子' },
      };

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
    clients: [
        {
            client_id: process.env.CLIENT_ID || 'kanri',
            client_secret: process.env.CLIENT_SECRET || 'kanri-test-secret',
            redirect_uris: redirectUris,
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_post',
        },
    ],
    jwks: { keys: [jwk] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    pkce: { required: () => true },
    cookies: { keys: ['kanri-oidc-test-cookie-key'] },
    async findAccount(_ctx, id) {
        const claims = accounts[id];
        if (!claims) return undefined;
        return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
    // Consent for the one client is given at once, so the flow is: sign-in form, then back to Kanri.
    async loadExistingGrant(ctx) {
        const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) return ctx.oidc.provider.Grant.find(grantId);
        const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
    },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => {
    console.log(`ready ${issuer}`);
});
