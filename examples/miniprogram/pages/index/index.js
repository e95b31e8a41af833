// The one page: who am I, avatar, nickname, phone, signed-in devices. All requests go
// through getApp().api (lib/wxlogin.js), which logs in when needed.

/** @typedef {ReturnType<typeof import('../../lib/wxlogin.js').createClient>} Api */

/** @returns {Api} */
function api() {
  return getApp().api;
}

/** @param {any} err */
function describe(err) {
  if (err && err.code === 'RATE_LIMITED' && err.retryAfter) return 'Too many attempts; try again in ' + err.retryAfter + ' s';
  if (err && err.code === 'INTERNAL' && err.requestId) return 'Server error (request ' + err.requestId + ')';
  return (err && err.message) || String(err);
}

Page({
  data: {
    /** @type {import('../../lib/wxlogin.js').User | null} */
    user: null,
    /** @type {import('../../lib/wxlogin.js').Device[]} */
    devices: [],
    error: '',
  },

  onLoad() {
    this.refresh();
  },

  refresh() {
    api()
      .me()
      .then((user) => this.setData({ user, error: '' }))
      .then(() => this.refreshDevices())
      .catch((err) => this.setData({ error: describe(err) }));
  },

  refreshDevices() {
    return api()
      .sessions()
      .then((devices) => this.setData({ devices }));
  },

  onLogoutOthers() {
    api()
      .logoutEverywhere(true)
      .then(() => this.refreshDevices())
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** @param {WechatMiniprogram.CustomEvent<{ avatarUrl: string }>} e */
  onChooseAvatar(e) {
    api()
      .uploadAvatar(e.detail.avatarUrl)
      .then((user) => this.setData({ user, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** @param {WechatMiniprogram.CustomEvent<{ value: { nickname?: string } }>} e */
  onSaveNickname(e) {
    const nickname = (e.detail.value.nickname || '').trim();
    if (!nickname) return;
    api()
      .updateProfile({ nickname })
      .then((user) => this.setData({ user, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },

  /** @param {WechatMiniprogram.CustomEvent<{ code?: string, errMsg: string }>} e */
  onGetPhoneNumber(e) {
    // No code: the user declined, or the app may not ask (unverified app).
    if (!e.detail.code) return;
    api()
      .bindPhoneNumber({ code: e.detail.code })
      .then((user) => this.setData({ user, error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },

  onLogout() {
    api()
      .logout()
      .then(() => this.setData({ user: null, devices: [], error: '' }))
      .catch((err) => this.setData({ error: describe(err) }));
  },
});
