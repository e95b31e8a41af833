// pages/index/index.js, the example's page, run in Node: its Page() object
// with a fake getApp() (the real lib/wxlogin.js client) and a fake wx over
// real HTTP to a dev-mode wxlogin server (WXLOGIN_URL, started with
// POLICY_VERSION = WXLOGIN_POLICY_VERSION by miniprogram_test.go). The
// user's answers to the page's dialogs are scripted; setData merges as
// WeChat's does for top-level keys.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createClient, STORAGE_KEY } = require('../lib/wxlogin.js');
const { fakeWx } = require('./fakewx.js');

const baseUrl = process.env.WXLOGIN_URL;
if (!baseUrl) throw new Error('set WXLOGIN_URL to a wxlogin server in dev mode (DEV_WECHAT=1), e.g. http://127.0.0.1:8080');
const policyVersion = process.env.WXLOGIN_POLICY_VERSION || '';

// The page registers itself with Page(); keep its definition.
let definition = null;
global.Page = (def) => {
  definition = def;
};
require('../pages/index/index.js');

const run = `pg${process.pid}t${Date.now().toString(36)}`;
let n = 0;

/**
 * A phone: one simulator user, its storage and files. open() launches the
 * mini program on it (a new client on the same storage, a new page).
 */
function phone(t, opts = {}) {
  const user = `${run}-${++n}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-mp-page-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fake = fakeWx(baseUrl, { user, userDataPath: dir, ...opts });
  const open = async () => {
    const api = createClient({ wx: fake.wx, baseUrl });
    // The page reads wx and getApp() as globals; tests in a file run one at a time.
    global.wx = fake.wx;
    global.getApp = () => ({ api, policyVersion });
    const page = { ...definition, data: structuredClone(definition.data) };
    page.setData = (d) => Object.assign(page.data, d);
    await page.onLoad();
    return { page, api };
  };
  return { user, fake, dir, open };
}

// Every test is bounded: a client stuck in a login loop fails rather than hangs.
function it(name, fn) {
  return test(name, { timeout: 10_000 }, (t) => {
    if (!policyVersion) {
      t.skip('set WXLOGIN_POLICY_VERSION to the server POLICY_VERSION');
      return;
    }
    return fn(t);
  });
}

const POLICY = '隐私政策更新';
const REFUSED = '不同意隐私政策';

it('consent: the policy prompt on first launch, not after accepting', async (t) => {
  const p = phone(t);
  const { page } = await p.open();
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY]);
  assert.ok(p.fake.modals[0].content.includes(policyVersion), 'the prompt names the version');
  assert.equal(p.fake.ops('AcceptPolicy'), 1);
  assert.equal(page.data.consentPending, false);
  assert.equal(page.data.user.consentRequired, false);
  assert.equal(page.data.user.policyVersion, policyVersion);
  assert.equal(page.data.error, '');
  // Launched again: accepted already, so no prompt.
  const again = await p.open();
  assert.equal(p.fake.modals.length, 1);
  assert.equal(again.page.data.consentPending, false);
  assert.equal(p.fake.ops('AcceptPolicy'), 1);
});

it('consent: refusing offers deletion; "think again" keeps asking', async (t) => {
  const p = phone(t, { answer: () => false });
  const { page } = await p.open();
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY, REFUSED]);
  assert.match(p.fake.modals[1].content, /撤回同意即注销账号/);
  assert.equal(p.fake.ops('AcceptPolicy'), 0);
  assert.equal(page.data.consentPending, true, 'the page shows only the prompt');
  assert.equal(page.data.user.consentRequired, true);
  // The page's button asks again; launched again, so does the page.
  await page.onReviewPolicy();
  assert.equal(p.fake.modals.filter((m) => m.title === POLICY).length, 2);
  await p.open();
  assert.equal(p.fake.modals.filter((m) => m.title === POLICY).length, 3);
  assert.equal(p.fake.ops('AcceptPolicy'), 0);
});

it('download my data: saved as a file, summed up, sent to a chat', async (t) => {
  const p = phone(t);
  const { page } = await p.open();
  await page.onDownloadData();
  assert.equal(page.data.error, '');
  const saved = page.data.exported;
  assert.equal(saved.path, path.join(p.dir, 'wxlogin-my-data.json'));
  const text = fs.readFileSync(saved.path, 'utf8');
  const doc = JSON.parse(text);
  assert.equal(doc.version, 1);
  assert.equal(doc.user.id, page.data.user.id);
  assert.equal(doc.consents.total, 1, 'the acceptance on launch is in it');
  assert.equal(doc.consents.items[0].version, policyVersion);
  assert.match(saved.summary, /^1 个微信身份，1 次登录，1 次同意隐私政策，\d+ 条操作记录$/);
  // The page shows the beginning; the file has all of it.
  assert.ok(text.length > 2000);
  assert.equal(saved.preview, text.slice(0, 2000) + '\n…');
  assert.equal(saved.sizeKB, (text.length / 1024).toFixed(1));
  page.onShareData();
  assert.deepEqual(p.fake.shared, [{ filePath: saved.path, fileName: '我的数据.json' }]);
});

const DELETE = '注销账号';
const CANCELLED = '已撤销注销';

it('delete my account: confirmed, signed out, no login by itself; signing in cancels it', async (t) => {
  const p = phone(t);
  const { page } = await p.open();
  const id = page.data.user.id;
  await page.onDeleteAccount();
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY, DELETE]);
  assert.match(p.fake.modals[1].content, /注销冷静期/);
  assert.match(p.fake.modals[1].content, /再次登录即可撤销注销/);
  assert.equal(p.fake.ops('DeleteAccount'), 1);
  assert.equal(page.data.user, null);
  assert.match(page.data.deletion.erasesAt, /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(page.data.error, '');

  // Launched again: the date, and not a request (a login would cancel).
  const before = p.fake.counts.request + p.fake.counts.login;
  const again = await p.open();
  assert.equal(p.fake.counts.request + p.fake.counts.login, before);
  assert.equal(again.page.data.user, null);
  assert.ok(again.page.data.deletion);

  // The user signs in: the deletion is cancelled, and the user told.
  await again.page.onSignInAgain();
  await again.page.notified;
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY, DELETE, CANCELLED]);
  assert.equal(again.page.data.deletion, null);
  assert.equal(again.page.data.user.id, id, 'the same account');
  assert.equal(again.page.data.error, '');
});

it('a disabled user: the login is refused, deletion with a wx.login() code is offered', async (t) => {
  let refuse = false;
  const p = phone(t, {
    // The server's USER_DISABLED, as disableUser would make it (the page has no admin).
    intercept: ({ op }) =>
      refuse && op === 'Login' ? { errors: [{ message: 'this account has been disabled', extensions: { code: 'USER_DISABLED' } }] } : undefined,
  });
  await p.open();
  p.fake.wx.removeStorageSync(STORAGE_KEY); // a disabled user's sessions are all revoked
  refuse = true;
  const { page } = await p.open();
  assert.equal(page.data.user, null);
  assert.equal(page.data.disabled, true);
  assert.equal(page.data.error, '该账号已被停用');
  await page.onDeleteAccount();
  assert.equal(p.fake.ops('DeleteAccountWithCode'), 1);
  assert.equal(p.fake.ops('DeleteAccount'), 0);
  assert.equal(page.data.disabled, false);
  assert.equal(page.data.error, '');
  assert.match(page.data.deletion.erasesAt, /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
});

it('delete my account: "cancel" in the dialog deletes nothing', async (t) => {
  const p = phone(t, { answer: ({ title }) => title !== DELETE });
  const { page } = await p.open();
  await page.onDeleteAccount();
  assert.equal(p.fake.ops('DeleteAccount'), 0);
  assert.ok(page.data.user);
  assert.equal(page.data.deletion, null);
});

it('refusing the policy, then deleting the account', async (t) => {
  const p = phone(t, { answer: ({ title }) => title !== POLICY });
  const { page } = await p.open();
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY, REFUSED, DELETE]);
  assert.equal(p.fake.ops('AcceptPolicy'), 0);
  assert.equal(p.fake.ops('DeleteAccount'), 1);
  assert.equal(page.data.consentPending, false);
  assert.equal(page.data.user, null);
  assert.ok(page.data.deletion);
});

it('delete my account: two taps, two dialogs, one deletion and no login', async (t) => {
  const p = phone(t);
  const { page } = await p.open();
  await Promise.all([page.onDeleteAccount(), page.onDeleteAccount()]);
  await page.onDeleteAccount();
  assert.equal(p.fake.ops('DeleteAccount'), 1);
  assert.equal(p.fake.counts.login, 1);
  assert.ok(page.data.deletion);
});

const REJECTED = '昵称未通过审核';
const nicknameForm = (nickname) => ({ detail: { value: { nickname } } });

it('nickname refused by the content check: a dialog, the typed text kept, nothing saved, no retry', async (t) => {
  const p = phone(t);
  const { page, api } = await p.open();
  await page.onSaveNickname(nicknameForm('小红'));
  assert.equal(page.data.user.nickname, '小红');
  // The server (CONTENT_CHECK=on) asks the simulator, which finds "违规" risky.
  await page.onSaveNickname(nicknameForm(' 违规的昵称 '));
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY, REJECTED]);
  const modal = p.fake.modals[1];
  assert.equal(modal.content, '该昵称未通过微信内容安全检测，请换一个昵称再试。');
  assert.equal(modal.showCancel, false, 'one button: there is nothing to cancel');
  assert.doesNotMatch(modal.content, /\d/, 'no label shown');
  assert.equal(page.data.nicknameDraft, '违规的昵称', 'the typed nickname stays to edit');
  assert.equal(page.data.error, '');
  assert.equal(p.fake.ops('UpdateProfile'), 2, 'not sent again by itself');
  assert.equal(page.data.user.nickname, '小红');
  assert.equal((await api.me()).nickname, '小红', 'the profile is unchanged');
  // Edited, it saves, and the input shows the saved nickname again.
  await page.onSaveNickname(nicknameForm('小红红'));
  assert.equal(page.data.user.nickname, '小红红');
  assert.equal(page.data.nicknameDraft, null);
  assert.equal(p.fake.modals.length, 2);
});

it('nickname while WeChat is unreachable: a toast, the typed text kept', async (t) => {
  const p = phone(t, {
    intercept: ({ op }) =>
      op === 'UpdateProfile' ? { data: null, errors: [{ message: 'WeChat is unavailable', extensions: { code: 'WECHAT_UNAVAILABLE' } }] } : undefined,
  });
  const { page } = await p.open();
  const before = page.data.user.nickname;
  await page.onSaveNickname(nicknameForm('小绿'));
  assert.deepEqual(p.fake.toasts, [{ title: '网络繁忙，请稍后重试', icon: 'none' }]);
  assert.deepEqual(p.fake.modals.map((m) => m.title), [POLICY]);
  assert.equal(page.data.nicknameDraft, '小绿');
  assert.equal(page.data.user.nickname, before);
  assert.equal(p.fake.ops('UpdateProfile'), 1);
});
