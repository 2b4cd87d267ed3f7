// A demonstration and test OpenID provider: one issuer per council, each an oidc-provider (panva) Provider.
//
//   node idp/server.mjs --config FILE [--host 127.0.0.1] [--port 9090] [--public-url http://127.0.0.1:9090]
//
// FILE is JSON:
//   {"client": {"client_id": "...", "client_secret": "...", "redirect_uris": ["http://.../pages/signed-in/B"]},
//    "councils": {"B": {"name": "Body's name",
//                       "people": [{"sub": "...", "name": "...", "email": "...", "email_verified": true,
//                                   "oid": "..."}]}},   (oid optional: an object id, as Entra ID's tokens carry)
//    "host": "127.0.0.1", "port": 9090, "public_url": "http://127.0.0.1:9090"}   (the last three optional)
//
// The client secret may be left out of FILE and given in the environment as IDP_CLIENT_SECRET (as docker compose
// does: no secret is committed); IDP_PUBLIC_URL likewise gives the public URL.
// Council B's issuer is {public_url}/B (its discovery document {public_url}/B/.well-known/openid-configuration).
// The one client is registered at every issuer: confidential (client_secret_basic), authorization code only,
// PKCE with S256 required. Signing in is password-less: the provider's own page lists the council's people and
// the person picks their account. It is a provider for demonstrations and tests, never for real people.
// Consent is granted without asking (the client is first-party). ID tokens carry the profile and email claims.
// Its state (sessions, codes, grants) is kept in memory, by oidc-provider's development adapter (which says so
// as each issuer starts): a restart signs everyone out of the provider, which is all a demonstration needs.
// Once listening it prints one line, "concordat-idp ready {json}", the JSON naming each council's issuer.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'public-url': { type: 'string' },
  },
});
if (!args.config) {
  console.error('usage: node idp/server.mjs --config FILE [--host H] [--port P] [--public-url URL]');
  process.exit(2);
}

const config = JSON.parse(readFileSync(args.config, 'utf8'));
if (process.env.IDP_CLIENT_SECRET && config.client) config.client.client_secret = process.env.IDP_CLIENT_SECRET;
const problems = check(config);
if (problems.length) {
  console.error(`concordat-idp: ${args.config} is not usable:\n  ${problems.join('\n  ')}`);
  process.exit(2);
}
const host = args.host ?? config.host ?? '127.0.0.1';
const port = Number(args.port ?? config.port ?? 9090);

function check(value) {
  const found = [];
  const client = value?.client;
  if (!client || typeof client.client_id !== 'string' || typeof client.client_secret !== 'string' || !client.client_secret
      || !Array.isArray(client.redirect_uris) || client.redirect_uris.length === 0) {
    found.push('client: needs client_id, client_secret (or IDP_CLIENT_SECRET) and redirect_uris (a non-empty list)');
  }
  const councils = value?.councils;
  if (!councils || typeof councils !== 'object' || Object.keys(councils).length === 0) {
    found.push('councils: needs at least one council');
    return found;
  }
  for (const [code, council] of Object.entries(councils)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(code)) found.push(`councils.${code}: not a body code`);
    if (!Array.isArray(council?.people) || council.people.length === 0) {
      found.push(`councils.${code}.people: needs at least one person`);
      continue;
    }
    council.people.forEach((person, index) => {
      if (typeof person?.sub !== 'string' || !person.sub || typeof person?.name !== 'string') {
        found.push(`councils.${code}.people[${index}]: needs sub and name`);
      }
    });
  }
  return found;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(res, status, title, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>body{font-family:Arial,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1.1rem;padding:.5rem 1rem;margin:.25rem 0;display:block;width:100%;text-align:left;
background:#f3f2f1;border:2px solid #0b0c0c;cursor:pointer}button:focus{outline:3px solid #fd0}</style>
</head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      text += chunk;
      if (text.length > 10000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(text)));
    req.on('error', reject);
  });
}

function provider(code, council, issuer) {
  const people = new Map(council.people.map((person) => [person.sub, person]));
  const { client } = config;
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return new Provider(issuer, {
    clients: [{
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { methods: ['S256'], required: () => true },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'oid'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    jwks: { keys: [{ ...jwk, kid: `${code}-1`, alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    interactions: { url: (ctx, interaction) => `/${code}/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const person = people.get(sub);
      if (!person) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            name: person.name,
            preferred_username: person.email ?? sub,
            ...(person.oid ? { oid: person.oid } : {}),
            ...(person.email ? { email: person.email, email_verified: person.email_verified === true } : {}),
          };
        },
      };
    },
    // The client is first-party: the grant is made without asking the person.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>`
        + `<body><main><h1>Sign-in error</h1><p>${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`
        + '</main></body></html>';
    },
  });
}

async function interaction(res, req, code, council, oidc, uid, action) {
  const details = await oidc.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, 'Sign-in expired', '<p>This sign-in has expired. Go back to the service and start again.</p>');
    return;
  }
  if (action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const account = form.get('account');
    if (!council.people.some((person) => person.sub === account)) {
      page(res, 400, 'No such account', `<p>No account ${escape(account ?? '')} at ${escape(council.name ?? code)}.</p>`);
      return;
    }
    await oidc.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name !== 'login') {
    // consent is granted by loadExistingGrant; any other prompt finishes with what the session holds
    await oidc.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
    return;
  }
  const buttons = council.people.map((person) => `<button type="submit" name="account" value="${escape(person.sub)}">`
    + `${escape(person.name)}${person.email ? ` (${escape(person.email)})` : ''}</button>`).join('\n');
  page(res, 200, `Sign in to ${council.name ?? code}`,
    '<p>This is a demonstration identity provider: choose your account (there is no password).</p>'
    + `<form method="post" action="/${escape(code)}/interaction/${escape(uid)}/login">${buttons}</form>`);
}

const providers = new Map();
const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://idp');
    const [, code, ...rest] = url.pathname.split('/');
    const entry = providers.get(code);
    if (!entry) {
      page(res, 404, 'Not found', `<p>No council here. Issuers: ${[...providers.keys()].map(escape).join(', ')}</p>`);
      return;
    }
    if (rest[0] === 'interaction' && rest[1]) {
      await interaction(res, req, code, entry.council, entry.oidc, rest[1], rest[2]);
      return;
    }
    // mounted as express mounts: the provider's routes are relative to /{code}
    req.originalUrl = req.url;
    req.url = req.url.slice(code.length + 1) || '/';
    entry.callback(req, res);
  } catch (error) {
    console.error(`concordat-idp: ${req.method} ${req.url}: ${error}`);
    if (!res.headersSent) page(res, 500, 'Sign-in error', `<p>${escape(error.message)}</p>`);
  }
});

server.listen(port, host, () => {
  const base = (args['public-url'] ?? process.env.IDP_PUBLIC_URL ?? config.public_url
    ?? `http://${host}:${server.address().port}`).replace(/\/$/, '');
  const issuers = {};
  for (const [code, council] of Object.entries(config.councils)) {
    const oidc = provider(code, council, `${base}/${code}`);
    oidc.on('server_error', (ctx, error) => console.error(`concordat-idp: ${code}: ${error}`));
    providers.set(code, { council, oidc, callback: oidc.callback() });
    issuers[code] = `${base}/${code}`;
  }
  console.log(`concordat-idp ready ${JSON.stringify({ port: server.address().port, issuers })}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
