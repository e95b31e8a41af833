// The one page: who am I, avatar, nickname, phone, signed-in devices, and the
// account's lifecycle: the privacy policy (asked again when it changes), a
// copy of one's data, and deleting the account. All requests go through
// getApp().api (lib/wxlogin.js), which logs in when needed. The texts are
// Chinese, as the mini program's users read them.
//
// Handlers return their promise: WeChat ignores it, and the Node tests
// (test/page.test.js) wait for it.

/** @typedef {ReturnType<typeof import('../../lib/wxlogin.js').createClient>} Api */

/** Where "download my data" saves the document, under wx.env.USER_DATA_PATH. */
const EXPORT_FILE = 'wxlogin-my-data.json';

/** How much of the document the page shows; the file has all of it. */
const PREVIEW_CHARS = 2000;

/** The dialog when WeChat's content security check refuses a nickname (CONTENT_REJECTED). */
const NICKNAME_REJECTED = '昵称未通过审核';
const NICKNAME_REJECTED_TEXT = '该昵称未通过微信内容安全检测，请换一个昵称再试。';
/** The toast when the server could not reach WeChat (WECHAT_UNAVAILABLE). */
const WECHAT_BUSY = '网络繁忙，请稍后重试';

/** @returns {Api} */
function api() {
  return getApp().api;
}

/** @returns {string} the policy version this build shows (app.js) */
function policyVersion() {
  return getApp().policyVersion;
}

/** @param {any} err */
function describe(err) {
  if (err && err.code === 'RATE_LIMITED' && err.retryAfter) return '操作太频繁，请 ' + err.retryAfter + ' 秒后再试';
  if (err && err.code === 'INTERNAL' && err.requestId) return '服务器出错（请求编号 ' + err.requestId + '）';
  if (err && err.code === 'USER_DISABLED') return '该账号已被停用';
  return (err && err.message) || String(err);
}

/**
 * wx.showModal as a promise: true when the user pressed the confirm button.
 * @param {{ title: string, content: string, confirmText?: string, cancelText?: string,
 *   confirmColor?: string, showCancel?: boolean }} options
 * @returns {Promise<boolean>}
 */
function ask(options) {
  return new Promise((resolve) => {
    wx.showModal({
      ...options,
      success: (res) => resolve(!!res.confirm),
      fail: () => resolve(false),
    });
  });
}

/**
 * An RFC 3339 time as the phone's local "2026-12-14 09:30".
 * @param {string} iso
 */
function formatTime(iso) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  /** @param {number} n */
  const two = (n) => (n < 10 ? '0' : '') + n;
  return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' + two(d.getHours()) + ':' + two(d.getMinutes());
}

/**
 * Write text to a file of the mini program's own (wx.env.USER_DATA_PATH).
 * @param {string} filePath @param {string} text @returns {Promise<void>}
 */
function writeFile(filePath, text) {
  return new Promise((resolve, reject) => {
    wx.getFileSystemManager().writeFile({
      filePath,
      data: text,
      encoding: 'utf8',
      success: () => resolve(),
      fail: (res) => reject(new Error('保存失败：' + res.errMsg)),
    });
  });
}

Page({
  data: {
    /** @type {import('../../lib/wxlogin.js').User | null} */
    user: null,
    /** @type {import('../../lib/wxlogin.js').Device[]} */
    devices: [],
    /** The user has not accepted the current policy: only the prompt is shown. */
    consentPending: false,
    /** A deletion in its cooling-off period: `{ erasesAt }` as shown. */
    /** @type {{ erasesAt: string } | null} */
    deletion: null,
    /** The login was USER_DISABLED: only deletion (with a wx.login() code) is offered. */
    disabled: false,
    /** "Download my data": where it was saved and a preview. */
    /** @type {{ path: string, sizeKB: string, summary: string, preview: string } | null} */
    exported: null,
    /** A message that stays on the page (the account is erased, …). */
    notice: '',
    error: '',
    /**
     * The nickname as typed, kept in the input after WeChat's content check
     * refused it (CONTENT_REJECTED) so the user can edit it; null shows the
     * saved one.
     * @type {string | null}
     */
    nicknameDraft: null,
  },

  /** @type {(() => void) | null} */
  offLogin: null,

  /** The "deletion cancelled" dialog, until the user closes it. */
  /** @type {Promise<unknown>} */
  notified: Promise.resolve(),

  onLoad() {
    // Any login may be the one that cancels a deletion (this device's, or
    // one made on demand): tell the user whichever it is.
    this.offLogin = api().onLogin((p) => {
      if (p.deletionCancelled) this.deletionCancelled();
    });
    return this.refresh();
  },

  onUnload() {
    if (this.offLogin) this.offLogin();
  },

  refresh() {
    // After "delete my account" the page must not log in by itself (every
    // call does when there is no token): that would cancel the deletion.
    const pending = api().pendingDeletion();
    if (pending) {
      this.setData({ user: null, devices: [], consentPending: false, deletion: { erasesAt: formatTime(pending.erasesAt) } });
      return Promise.resolve();
    }
    return api()
      .me()
      .then((user) => {
        this.setData({ user, deletion: null, error: '' });
        // One dialog at a time: "deletion cancelled" first, then the policy.
        return this.refreshDevices()
          .then(() => this.notified)
          .then(() => this.checkConsent(user));
      })
      // A disabled user cannot sign in, but may still delete the account
      // (with a fresh wx.login() code instead of a session): offer it.
      .catch((err) => this.setData({ error: describe(err), disabled: !!err && err.code === 'USER_DISABLED' }));
  },

  refreshDevices() {
    return api()
      .sessions()
      .then((devices) => this.setData({ devices }));
  },

  /**
   * Ask for the current policy when the user has not accepted it (new
   * user, or the policy changed since).
   * @param {import('../../lib/wxlogin.js').User} user
   * @returns {Promise<void>}
   */
  checkConsent(user) {
    if (!user.consentRequired) {
      this.setData({ consentPending: false });
      return Promise.resolve();
    }
    this.setData({ consentPending: true });
    // A real mini program links the full texts here (a page of its own, or
    // wx.openPrivacyContract for the privacy guide WeChat keeps).
    return ask({
      title: '隐私政策更新',
      content: '请阅读《用户协议》和《隐私政策》（' + policyVersion() + ' 版）。同意后可继续使用；不同意则无法继续使用本服务。',
      confirmText: '同意',
      cancelText: '不同意',
    }).then((agreed) => {
      if (!agreed) return this.refusePolicy();
      return api()
        .acceptPolicy(policyVersion())
        .then((accepted) => this.setData({ user: accepted, consentPending: false, error: '' }))
        .catch((err) => this.setData({ error: describe(err) }));
    });
  },

  /** The policy prompt again, from the page's button. */
  onReviewPolicy() {
    const user = this.data.user;
    return user ? this.checkConsent(user) : Promise.resolve();
  },

  /** Refusing the policy: withdrawing consent is deleting the account (PIPL Art. 15). */
  refusePolicy() {
    return ask({
      title: '不同意隐私政策',
      content: '不同意则无法继续使用。撤回同意即注销账号：你可以现在注销账号，或稍后再阅读并同意。',
      confirmText: '注销账号',
      cancelText: '再想想',
      confirmColor: '#e64340',
    }).then((del) => (del ? this.onDeleteAccount() : undefined));
  },

  onDownloadData() {
    return api()
      .myData()
      .then((doc) => {
        const text = JSON.stringify(doc, null, 2);
        const path = wx.env.USER_DATA_PATH + '/' + EXPORT_FILE;
        return writeFile(path, text).then(() => {
          const more = (/** @type {{ truncated: boolean }} */ list) => (list.truncated ? '（仅含最近的记录）' : '');
          this.setData({
            exported: {
              path,
              sizeKB: (text.length / 1024).toFixed(1),
              summary:
                doc.identities.length + ' 个微信身份，' +
                doc.sessions.total + ' 次登录' + more(doc.sessions) + '，' +
                doc.consents.total + ' 次同意隐私政策，' +
                doc.audit.total + ' 条操作记录' + more(doc.audit),
              preview: text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS) + '\n…' : text,
            },
            error: '',
          });
        });
      })
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** Send the saved file to a chat: how a user gets a file out of a mini program. */
  onShareData() {
    const exported = this.data.exported;
    if (!exported) return;
    wx.shareFileMessage({
      filePath: exported.path,
      fileName: '我的数据.json',
      fail: (res) => this.setData({ error: '发送失败：' + res.errMsg }),
    });
  },

  onDeleteAccount() {
    return ask({
      title: '注销账号',
      content:
        '注销后，你的所有设备将立即退出登录，账号进入注销冷静期（默认 7 天）。冷静期内再次登录即可撤销注销；' +
        '期满后，你的昵称、头像、手机号和微信身份信息将被永久删除，无法恢复。',
      confirmText: '确认注销',
      cancelText: '取消',
      confirmColor: '#e64340',
    }).then((sure) => {
      // Two taps make two dialogs: the second "confirm" must not log in
      // again (which would cancel the deletion) to delete once more.
      if (!sure || api().pendingDeletion()) return;
      return (this.data.disabled ? api().deleteAccountWithCode() : api().deleteAccount())
        .then((r) => {
          const gone = { user: null, devices: [], consentPending: false, exported: null, error: '', disabled: false };
          if (r.erased) this.setData({ ...gone, deletion: null, notice: '账号已注销，你的个人信息已删除。' });
          else this.setData({ ...gone, deletion: { erasesAt: formatTime(r.erasesAt) }, notice: '' });
        })
        .catch((err) => this.setData({ error: describe(err) }));
    });
  },

  /** Sign in during the cooling-off period: this cancels the deletion. */
  onSignInAgain() {
    return api()
      .login()
      .then(() => this.setData({ notice: '' }))
      .then(() => this.refresh())
      .catch((err) => this.setData({ error: describe(err) }));
  },

  deletionCancelled() {
    this.setData({ deletion: null });
    this.notified = ask({
      title: '已撤销注销',
      content: '你在注销冷静期内重新登录，账号注销已撤销，账号和数据均保留。如仍要注销，可再次申请。',
      showCancel: false,
      confirmText: '知道了',
    });
    return this.notified;
  },

  onLogoutOthers() {
    return api()
      .logoutEverywhere(true)
      .then(() => this.refreshDevices())
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** @param {WechatMiniprogram.CustomEvent<{ avatarUrl: string }>} e */
  onChooseAvatar(e) {
    return api()
      .uploadAvatar(e.detail.avatarUrl)
      .then((user) => this.setData({ user, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** @param {WechatMiniprogram.CustomEvent<{ value: { nickname?: string } }>} e */
  onSaveNickname(e) {
    const nickname = (e.detail.value.nickname || '').trim();
    if (!nickname) return;
    return api()
      .updateProfile({ nickname })
      .then((user) => this.setData({ user, nicknameDraft: null, error: '' }))
      .catch((err) => {
        if (err && err.code === 'CONTENT_REJECTED') {
          // Refused by WeChat's content security check: nothing was saved.
          // Say so in plain words (not WeChat's label, which would read as
          // an accusation), keep the typed text to edit, and do not send it
          // again by itself: the same text gets the same verdict.
          this.setData({ nicknameDraft: nickname, error: '' });
          return ask({ title: NICKNAME_REJECTED, content: NICKNAME_REJECTED_TEXT, showCancel: false, confirmText: '知道了' });
        }
        if (err && err.code === 'WECHAT_UNAVAILABLE') {
          // WeChat could not check it, so nothing was saved; the user may try again.
          this.setData({ nicknameDraft: nickname });
          wx.showToast({ title: WECHAT_BUSY, icon: 'none' });
          return;
        }
        this.setData({ error: describe(err) });
      });
  },

  /** @param {WechatMiniprogram.CustomEvent<{ code?: string, errMsg: string }>} e */
  onGetPhoneNumber(e) {
    // No code: the user declined, or the app may not ask (unverified app).
    if (!e.detail.code) return;
    return api()
      .bindPhoneNumber({ code: e.detail.code })
      .then((user) => this.setData({ user, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },

  onLogout() {
    return api()
      .logout()
      .then(() => this.setData({ user: null, devices: [], exported: null, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },
});
