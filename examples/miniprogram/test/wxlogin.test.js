// lib/wxlogin.js against a running dev-mode wxlogin server (WXLOGIN_URL),
// with a fake wx over real HTTP. Run by miniprogram_test.go (go test), or by
// hand: WXLOGIN_URL=http://127.0.0.1:8080 node --test test/
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createClient, STORAGE_KEY, DELETION_KEY } = require('../lib/wxlogin.js');
const { fakeWx } = require('./fakewx.js');

const baseUrl = process.env.WXLOGIN_URL;
if (!baseUrl) throw new Error('set WXLOGIN_URL to a wxlogin server in dev mode (DEV_WECHAT=1), e.g. http://127.0.0.1:8080');

// The simulator's users are the same person on every run; a run's own
// names keep runs and tests apart.
const run = `mp${process.pid}t${Date.now().toString(36)}`;
let n = 0;
function setup(opts = {}) {
  const user = `${run}-${++n}`;
  const fake = fakeWx(baseUrl, { user, ...opts });
  const api = createClient({ wx: fake.wx, baseUrl });
  return { user, fake, api };
}

async function gql(query, variables, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(baseUrl + '/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return r.json();
}

// Every test is bounded: a client stuck in a login loop fails rather than hangs.
function it(name, fn) {
  return test(name, { timeout: 10_000 }, fn);
}

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

it('login then me', async () => {
  const { fake, api } = setup();
  const me = await api.me();
  assert.match(me.id, /^[0-9a-f-]{36}$/);
  assert.equal(fake.counts.login, 1);
  assert.deepEqual(fake.calls.map((c) => c.op), ['Login', 'Me']);
  assert.equal(fake.calls[0].auth, '', 'login is sent without a token');
  assert.match(fake.calls[1].auth, /^Bearer \S+$/);
});

it('the token is kept in storage and reused', async () => {
  const { fake, api } = setup();
  const p = await api.login();
  assert.equal(fake.wx.getStorageSync(STORAGE_KEY).token, p.token);
  assert.equal(fake.wx.getStorageSync(STORAGE_KEY).expiresAt, p.expiresAt);
  // A later launch: a new client on the same storage logs in no more.
  const again = createClient({ wx: fake.wx, baseUrl });
  const me1 = await again.me();
  const me2 = await again.me();
  assert.equal(me1.id, p.user.id);
  assert.equal(me2.id, p.user.id);
  assert.equal(fake.counts.login, 1);
  assert.equal(fake.ops('Login'), 1);
  assert.ok(fake.calls.filter((c) => c.op === 'Me').every((c) => c.auth === 'Bearer ' + p.token));
});

it('concurrent calls without a token share one login', async () => {
  const { fake, api } = setup();
  const [a, b, c] = await Promise.all([api.me(), api.me(), api.me()]);
  assert.equal(a.id, b.id);
  assert.equal(b.id, c.id);
  assert.equal(fake.counts.login, 1);
  assert.equal(fake.ops('Login'), 1);
});

it('a revoked token: exactly one login again, then success', async () => {
  const { fake, api } = setup();
  const p = await api.login();
  // Revoked on the server (as by logout elsewhere, or an operator); the phone still has it.
  const out = await gql('mutation { logout }', {}, p.token);
  assert.equal(out.data.logout, true);
  const me = await api.me();
  assert.equal(me.id, p.user.id);
  assert.equal(fake.counts.login, 2);
  assert.equal(fake.ops('Login'), 2);
  assert.equal(fake.ops('Me'), 2);
  assert.notEqual(fake.wx.getStorageSync(STORAGE_KEY).token, p.token);
});

it('devices: list, end one, log out the others, then everywhere', async () => {
  const phone = setup();
  const pad = setup({ user: phone.user }); // the same WeChat user on another device
  const me = await phone.api.me();
  assert.equal((await pad.api.me()).id, me.id);
  const list = await phone.api.sessions();
  assert.deepEqual(list.map((s) => s.current), [true, false]);
  assert.match(list[0].ip, /\/24$|\/48$/, 'only the network is shown');
  assert.equal(await phone.api.revokeSession(list[1].id), true);
  // The pad's token is refused; its client logs in again by itself, once.
  await pad.api.me();
  assert.equal(pad.fake.counts.login, 2);
  assert.equal(await pad.api.logoutEverywhere(true), 1); // the phone's
  await phone.api.me();
  assert.equal(phone.fake.counts.login, 2);
  assert.equal(await pad.api.logoutEverywhere(), 2);
  assert.equal(pad.api.session(), null, 'logoutEverywhere forgets the token');
  await assert.rejects(phone.api.revokeSession('00000000-0000-7000-8000-000000000000'), (err) => err.code === 'BAD_USER_INPUT');
});

it('a garbage token: exactly one login again, then success', async () => {
  const { fake, api } = setup();
  fake.wx.setStorageSync(STORAGE_KEY, { token: 'not-a-token', expiresAt: '2999-01-01T00:00:00Z' });
  const me = await api.me();
  assert.ok(me.id);
  assert.deepEqual(fake.calls.map((c) => c.op), ['Me', 'Login', 'Me']);
  assert.equal(fake.counts.login, 1);
});

it('an expired token is not sent: login first', async () => {
  const { fake, api } = setup();
  fake.wx.setStorageSync(STORAGE_KEY, { token: 'old', expiresAt: '2000-01-01T00:00:00Z' });
  await api.me();
  assert.deepEqual(fake.calls.map((c) => c.op), ['Login', 'Me']);
});

it('UNAUTHENTICATED again after the re-login is surfaced: no loop', async () => {
  // Every Me goes out without its token, so the server refuses each one.
  const { fake, api } = setup({
    intercept: ({ op, header }) => {
      if (op === 'Me') delete header.Authorization;
    },
  });
  await assert.rejects(api.me(), (err) => err.code === 'UNAUTHENTICATED');
  assert.deepEqual(fake.calls.map((c) => c.op), ['Login', 'Me', 'Login', 'Me']);
  // Nothing keeps going in the background.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(fake.counts.request, 4);
  assert.equal(fake.counts.login, 2);
});

it('SESSION_KEY_EXPIRED: exactly one login again, then success', async () => {
  let refused = 0;
  const { fake, api } = setup({
    intercept: ({ op }) => {
      if (op === 'Me' && refused++ === 0) {
        return { data: null, errors: [{ message: 'log in again', extensions: { code: 'SESSION_KEY_EXPIRED' } }] };
      }
    },
  });
  await api.login();
  const me = await api.me();
  assert.ok(me.id);
  assert.deepEqual(fake.calls.map((c) => c.op), ['Login', 'Me', 'Login', 'Me']);
});

it('other errors are surfaced at once, with their code', async () => {
  const { fake, api } = setup();
  await api.login();
  await assert.rejects(api.updateProfile({ nickname: '   ' }), (err) => err.code === 'BAD_USER_INPUT');
  assert.equal(fake.counts.login, 1);
  assert.equal(fake.ops('UpdateProfile'), 1);
});

it('updateProfile sets the nickname', async () => {
  const { api } = setup();
  const u = await api.updateProfile({ nickname: '  小明 ', gender: 'MALE', city: 'Guangzhou' });
  assert.equal(u.nickname, '小明');
  assert.equal(u.gender, 'MALE');
  assert.equal(u.city, 'Guangzhou');
  assert.equal((await api.me()).nickname, '小明');
});

it('uploadAvatar: multipart operations, map, then the file', async (t) => {
  const { fake, api } = setup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-mp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'avatar.png');
  fs.writeFileSync(file, PNG);

  const u = await api.uploadAvatar(file);
  assert.deepEqual(fake.uploadParts, [['operations', 'map', '0']]);
  assert.match(u.avatarUrl, /\/avatars\/[0-9a-f]{64}\.jpg$/);
  const img = await fetch(new URL(u.avatarUrl, baseUrl));
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/jpeg');
  assert.equal((await api.me()).avatarUrl, u.avatarUrl);
});

it('uploadAvatar with a revoked token logs in again once', async (t) => {
  const { fake, api } = setup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-mp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'avatar.png');
  fs.writeFileSync(file, PNG);
  const p = await api.login();
  await gql('mutation { logout }', {}, p.token);
  const u = await api.uploadAvatar(file);
  assert.ok(u.avatarUrl);
  assert.equal(fake.counts.login, 2);
  assert.equal(fake.counts.uploadFile, 2);
});

it('uploadAvatar refuses a file that is not an image', async (t) => {
  const { api } = setup();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-mp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'avatar.png');
  fs.writeFileSync(file, 'not a png');
  await assert.rejects(api.uploadAvatar(file), (err) => err.code === 'BAD_USER_INPUT');
});

it('logout forgets the token and ends the session', async () => {
  const { fake, api } = setup();
  const p = await api.login();
  assert.equal(await api.logout(), true);
  assert.equal(fake.wx.getStorageSync(STORAGE_KEY), '');
  const out = await gql('{ me { id } }', {}, p.token);
  assert.equal(out.errors[0].extensions.code, 'UNAUTHENTICATED');
});

it('bindPhoneNumber with the getPhoneNumber button code', async (t) => {
  const schema = await gql('{ __type(name: "Mutation") { fields { name } } }');
  const fields = ((schema.data && schema.data.__type && schema.data.__type.fields) || []).map((f) => f.name);
  if (!fields.includes('bindPhoneNumber')) {
    // TODO: bindPhoneNumber(input: PhoneInput!) is coming from another
    // branch; this test runs by itself once the server has it.
    t.todo('the server has no bindPhoneNumber mutation yet');
    return;
  }
  const { user, fake, api } = setup();
  await api.login();
  // A number belongs to one user (PHONE_IN_USE otherwise): each run binds its own.
  const national = '138' + String(Date.now() % 1e8).padStart(8, '0');
  const r = await fetch(baseUrl + '/dev/wechat/phonecode', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, countryCode: '86', phoneNumber: national }),
  });
  const { code } = await r.json();
  assert.ok(code, 'the simulator minted a phone code');
  // What onGetPhoneNumber sends: e.detail.code.
  const u = await api.bindPhoneNumber({ code });
  assert.equal(u.phone, '+86' + national);
  assert.equal((await api.me()).phone, '+86' + national);
  assert.equal(fake.counts.login, 1);
});

// The server's POLICY_VERSION (miniprogram_test.go starts it with one); by
// hand against a server without one, the consent tests are skipped.
const policyVersion = process.env.WXLOGIN_POLICY_VERSION || '';

it('myData: the parsed document, version 1, of this user only', async () => {
  const { fake, api } = setup();
  const p = await api.login();
  await api.updateProfile({ nickname: '数据' });
  const doc = await api.myData();
  assert.equal(doc.version, 1);
  assert.equal(doc.user.id, p.user.id);
  assert.equal(doc.user.nickname, '数据');
  assert.equal(doc.identities.length, 1);
  assert.equal(doc.sessions.total, 1);
  assert.equal(doc.sessions.truncated, false);
  assert.ok(Array.isArray(doc.audit.items));
  assert.ok(!JSON.stringify(doc).includes(p.token), 'no token in the export');
  assert.equal(fake.ops('MyData'), 1);
  assert.equal(fake.counts.login, 1);
});

it('consent: required until acceptPolicy with the current version', async (t) => {
  if (!policyVersion) {
    t.skip('set WXLOGIN_POLICY_VERSION to the server POLICY_VERSION');
    return;
  }
  const { api } = setup();
  const p = await api.login();
  assert.equal(p.user.consentRequired, true, 'a new user is asked');
  assert.equal(p.user.policyVersion, null);
  await assert.rejects(api.acceptPolicy(policyVersion + '-old'), (err) => err.code === 'BAD_USER_INPUT');
  assert.equal((await api.me()).consentRequired, true);
  const u = await api.acceptPolicy(policyVersion);
  assert.equal(u.consentRequired, false);
  assert.equal(u.policyVersion, policyVersion);
  const again = await api.me();
  assert.equal(again.consentRequired, false);
  assert.equal(again.policyVersion, policyVersion);
});

it('onLogin hears every login, until stopped', async () => {
  const { api } = setup();
  const heard = [];
  const stop = api.onLogin((p) => heard.push(p.token));
  await api.me(); // a login on demand
  const p = await api.login();
  stop();
  await api.login();
  assert.equal(heard.length, 2);
  assert.equal(heard[1], p.token);
});

it('deleteAccount: every session ends, the token is dropped, the date kept', async () => {
  const phone = setup();
  const pad = setup({ user: phone.user }); // the same WeChat user on another device
  const p = await phone.api.login();
  const q = await pad.api.login();
  const r = await phone.api.deleteAccount();
  assert.equal(r.erased, false);
  // The server's default cooling-off period is 168 h.
  assert.ok(Date.parse(r.erasesAt) > Date.now() + 24 * 3600e3, `erasesAt ${r.erasesAt} is after the cooling-off period`);
  assert.equal(phone.api.session(), null);
  assert.equal(phone.fake.wx.getStorageSync(STORAGE_KEY), '', 'the token is dropped');
  assert.deepEqual(phone.api.pendingDeletion(), { erasesAt: r.erasesAt });
  for (const tok of [p.token, q.token]) {
    const out = await gql('{ me { id } }', {}, tok);
    assert.equal(out.errors[0].extensions.code, 'UNAUTHENTICATED', 'every session ended');
  }
  assert.equal(phone.fake.counts.login, 1, 'deleting logs in no more');
  assert.deepEqual(phone.fake.calls.map((c) => c.op), ['Login', 'DeleteAccount']);
});

it('a login during the cooling-off period cancels the deletion: deletionCancelled, the same account', async () => {
  const { api } = setup();
  const p = await api.login();
  assert.equal(p.deletionCancelled, false);
  await api.deleteAccount();
  const heard = [];
  api.onLogin((x) => heard.push(x.deletionCancelled));
  const again = await api.login();
  assert.equal(again.deletionCancelled, true);
  assert.equal(again.created, false);
  assert.equal(again.user.id, p.user.id);
  assert.equal(api.pendingDeletion(), null, 'the kept date goes with the login');
  assert.equal((await api.login()).deletionCancelled, false, 'only the first login cancels');
  assert.deepEqual(heard, [true, false]);
});

it('pendingDeletion: a date gone by is forgotten', () => {
  const { fake, api } = setup();
  fake.wx.setStorageSync(DELETION_KEY, { erasesAt: '2000-01-01T00:00:00Z' });
  assert.equal(api.pendingDeletion(), null);
  assert.equal(fake.wx.getStorageSync(DELETION_KEY), '');
  assert.equal(fake.counts.request + fake.counts.login, 0);
});

it('deleteAccountWithCode: a wx.login() code instead of a session, no login', async () => {
  const phone = setup();
  const pad = setup({ user: phone.user }); // the same WeChat user, no token on this device
  const p = await phone.api.login();
  const r = await pad.api.deleteAccountWithCode();
  assert.equal(r.erased, false);
  assert.ok(Date.parse(r.erasesAt) > Date.now() + 24 * 3600e3);
  assert.deepEqual(pad.api.pendingDeletion(), { erasesAt: r.erasesAt });
  assert.deepEqual(pad.fake.calls.map((c) => [c.op, c.auth]), [['DeleteAccountWithCode', '']], 'sent without a token, no login');
  assert.equal(pad.fake.counts.login, 1, 'one wx.login() code');
  const out = await gql('{ me { id } }', {}, p.token);
  assert.equal(out.errors[0].extensions.code, 'UNAUTHENTICATED', 'the other device\'s session ended');
  const again = await phone.api.login();
  assert.equal(again.deletionCancelled, true);
  assert.equal(again.user.id, p.user.id);
});

it('deleteAccountWithCode of a WeChat user without an account: BAD_USER_INPUT, nothing made', async () => {
  const { fake, api } = setup();
  await assert.rejects(api.deleteAccountWithCode(), (e) => e.code === 'BAD_USER_INPUT' && /no account/.test(e.message));
  assert.equal(api.pendingDeletion(), null);
  assert.equal(fake.ops('Login'), 0);
  const p = await api.login();
  assert.equal(p.created, true, 'the refused deletion made no account');
});

it('deleteAccount twice at once: one request, then no login', async () => {
  const { fake, api } = setup();
  await api.login();
  const [a, b] = await Promise.all([api.deleteAccount(), api.deleteAccount()]);
  assert.equal(a.erasesAt, b.erasesAt);
  assert.equal(fake.ops('DeleteAccount'), 1);
  assert.equal(fake.counts.login, 1, 'no login: it would cancel the deletion');
});
