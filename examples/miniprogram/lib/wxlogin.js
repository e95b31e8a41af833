// wxlogin's client for a WeChat mini program: every request the example
// makes goes through here. It takes the `wx` object and the server's URL as
// parameters, so Node tests run it against a real server with a fake `wx`
// (test/), and tsc checks it against the official typings
// (miniprogram-api-typings) through the JSDoc types below.
//
// CommonJS, ES2017, no dependencies: a mini program loads it with require().
'use strict';

/** Storage key of the session: `{ token, expiresAt }`. */
var STORAGE_KEY = 'wxlogin.session';

/**
 * Storage key of a pending account deletion: `{ erasesAt }`, kept after
 * deleteAccount so that opening the mini program again does not log in by
 * itself, which would cancel the deletion the user just asked for.
 */
var DELETION_KEY = 'wxlogin.deletion';

/**
 * Error codes after which logging in again can help: the token is unknown,
 * expired or revoked (UNAUTHENTICATED), or WeChat's session_key the server
 * holds for it has rotated (SESSION_KEY_EXPIRED).
 */
var RELOGIN_CODES = ['UNAUTHENTICATED', 'SESSION_KEY_EXPIRED'];

var USER_FIELDS = 'id nickname avatarUrl gender city province country language phone createdAt lastLoginAt policyVersion consentRequired';

var LOGIN = 'mutation Login($code: String!) { login(input: {code: $code}) { token expiresAt created deletionCancelled user { ' + USER_FIELDS + ' } } }';
var ME = 'query Me { me { ' + USER_FIELDS + ' } }';
var LOGOUT = 'mutation Logout { logout }';
var UPDATE_PROFILE = 'mutation UpdateProfile($input: ProfileInput!) { updateProfile(input: $input) { ' + USER_FIELDS + ' } }';
var UPLOAD_AVATAR = 'mutation UploadAvatar($file: Upload!) { uploadAvatar(file: $file) { ' + USER_FIELDS + ' } }';
var BIND_PHONE = 'mutation BindPhoneNumber($input: PhoneInput!) { bindPhoneNumber(input: $input) { ' + USER_FIELDS + ' } }';
var MY_SESSIONS = 'query MySessions($first: Int) { mySessions(first: $first) { id appId createdAt lastSeenAt expiresAt current ip userAgent } }';
var REVOKE_SESSION = 'mutation RevokeMySession($id: ID!) { revokeMySession(id: $id) }';
var LOGOUT_EVERYWHERE = 'mutation LogoutEverywhere($keepCurrent: Boolean) { logoutEverywhere(keepCurrent: $keepCurrent) }';
var MY_DATA = 'query MyData { myData }';
var DELETE_ACCOUNT = 'mutation DeleteAccount { deleteAccount { erasesAt erased } }';
var DELETE_ACCOUNT_WITH_CODE = 'mutation DeleteAccountWithCode($code: String!) { deleteAccount(login: {code: $code}) { erasesAt erased } }';
var ACCEPT_POLICY = 'mutation AcceptPolicy($version: String!) { acceptPolicy(version: $version) { ' + USER_FIELDS + ' } }';

/**
 * @typedef {{ id: string, nickname: ?string, avatarUrl: ?string, gender: ?string,
 *   city: ?string, province: ?string, country: ?string, language: ?string,
 *   phone: ?string, createdAt: string, lastLoginAt: ?string,
 *   policyVersion: ?string, consentRequired: boolean }} User
 * @typedef {{ token: string, expiresAt: string, created: boolean, deletionCancelled: boolean, user: User }} AuthPayload
 * @typedef {{ token: string, expiresAt: string }} Session
 * @typedef {{ id: string, appId: string, createdAt: string, lastSeenAt: string, expiresAt: string,
 *   current: boolean, ip: ?string, userAgent: ?string }} Device
 * @typedef {{ nickname?: string, gender?: 'UNKNOWN'|'MALE'|'FEMALE', language?: string,
 *   city?: string, province?: string, country?: string }} ProfileInput
 * @typedef {{ code?: string, encryptedData?: string, iv?: string }} PhoneInput
 * @typedef {{ message: string, extensions?: { code?: string, retryAfter?: number, requestId?: string } }} GraphQLErrorJSON
 * @typedef {{ data?: any, errors?: GraphQLErrorJSON[] }} GraphQLResponse
 * @typedef {{ erasesAt: string, erased: boolean }} AccountDeletion
 * @typedef {{ total: number, truncated: boolean, items: any[] }} CappedList
 * @typedef {{ version: number, exportedAt: string, user: { id: string, [field: string]: any },
 *   identities: any[], sessions: CappedList, consents: CappedList, audit: CappedList }} MyData
 *   myData's document (docs/api.md, "A copy of one's data"); `version` is
 *   raised when a field changes meaning, so check it before reading fields.
 */

/**
 * A failed call: a GraphQL error (its extensions.code in `code`), a
 * non-GraphQL HTTP answer (`HTTP_<status>`), or a failed wx API
 * (`WX_<api>`, errMsg in message).
 * @param {string} code
 * @param {string} message
 */
function WxloginError(code, message) {
  var e = /** @type {Error & { code: string, retryAfter?: number, requestId?: string, statusCode?: number }} */ (new Error(message));
  e.name = 'WxloginError';
  e.code = code;
  return e;
}

/**
 * The error a GraphQL response carries, or null.
 * @param {number} statusCode
 * @param {any} body a parsed JSON answer, or whatever arrived
 */
function responseError(statusCode, body) {
  if (body && typeof body === 'object' && Array.isArray(body.errors) && body.errors.length > 0) {
    /** @type {GraphQLErrorJSON} */
    var first = body.errors[0];
    var ext = first.extensions || {};
    var err = WxloginError(ext.code || 'UNKNOWN', first.message || 'request failed');
    if (typeof ext.retryAfter === 'number') err.retryAfter = ext.retryAfter;
    if (typeof ext.requestId === 'string') err.requestId = ext.requestId;
    err.statusCode = statusCode;
    return err;
  }
  if (statusCode !== 200 || !body || typeof body !== 'object' || !body.data) {
    var e = WxloginError('HTTP_' + statusCode, 'the server answered HTTP ' + statusCode + ' without a GraphQL result');
    e.statusCode = statusCode;
    return e;
  }
  return null;
}

/**
 * createClient returns the calls the mini program makes.
 * @param {{ wx: WechatMiniprogram.Wx, baseUrl: string, storageKey?: string }} options
 *   wx: the mini program's `wx` (a fake in tests); baseUrl: the server's
 *   origin, e.g. https://api.example.com (no trailing slash needed).
 */
function createClient(options) {
  var wx = options.wx;
  var endpoint = options.baseUrl.replace(/\/+$/, '') + '/graphql';
  var storageKey = options.storageKey || STORAGE_KEY;
  var deletionKey = storageKey === STORAGE_KEY ? DELETION_KEY : storageKey + '.deletion';
  /** @type {Promise<AuthPayload> | null} */
  var loggingIn = null;
  /** @type {Array<(p: AuthPayload) => void>} */
  var loginListeners = [];
  /** @type {Promise<AccountDeletion> | null} */
  var deleting = null;

  /** @returns {Session | null} */
  function session() {
    /** @type {any} */
    var s = wx.getStorageSync(storageKey);
    if (!s || typeof s.token !== 'string' || !s.token) return null;
    // A session that has expired by the phone's clock is not sent: log in
    // first rather than spend a request on a certain UNAUTHENTICATED.
    if (typeof s.expiresAt === 'string' && Date.parse(s.expiresAt) <= Date.now()) return null;
    return { token: s.token, expiresAt: s.expiresAt };
  }

  function forget() {
    wx.removeStorageSync(storageKey);
  }

  /**
   * POST one GraphQL request; resolves to its `data`, rejects with a WxloginError.
   * @param {string} query
   * @param {Record<string, any>} variables
   * @param {string} [token]
   * @returns {Promise<any>}
   */
  function post(query, variables, token) {
    return new Promise(function (resolve, reject) {
      /** @type {Record<string, string>} */
      var header = { 'Content-Type': 'application/json' };
      if (token) header.Authorization = 'Bearer ' + token;
      wx.request({
        url: endpoint,
        method: 'POST',
        header: header,
        data: { query: query, variables: variables },
        dataType: 'json',
        success: function (res) {
          var err = responseError(res.statusCode, res.data);
          if (err) reject(err);
          else resolve(/** @type {GraphQLResponse} */ (res.data).data);
        },
        fail: function (res) {
          reject(WxloginError('WX_REQUEST', res.errMsg));
        },
      });
    });
  }

  /** @returns {Promise<string>} a fresh wx.login() code */
  function wxLoginCode() {
    return new Promise(function (resolve, reject) {
      wx.login({
        success: function (res) {
          if (res.code) resolve(res.code);
          else reject(WxloginError('WX_LOGIN', res.errMsg || 'wx.login gave no code'));
        },
        fail: function (res) {
          reject(WxloginError('WX_LOGIN', res.errMsg));
        },
      });
    });
  }

  /**
   * Log in with a new wx.login() code and keep the token. Concurrent
   * callers share one login. A code is single-use, so every attempt gets
   * its own.
   * @returns {Promise<AuthPayload>}
   */
  function login() {
    if (!loggingIn) {
      loggingIn = wxLoginCode()
        .then(function (code) {
          return post(LOGIN, { code: code });
        })
        .then(function (data) {
          /** @type {AuthPayload} */
          var p = data.login;
          wx.setStorageSync(storageKey, { token: p.token, expiresAt: p.expiresAt });
          // Signed in: a deletion asked for here is cancelled (or, after
          // its date, this is a new account); either way it is no more.
          wx.removeStorageSync(deletionKey);
          loginListeners.slice().forEach(function (listener) {
            listener(p);
          });
          return p;
        });
      var done = function () {
        loggingIn = null;
      };
      loggingIn.then(done, done);
    }
    return loggingIn;
  }

  /** @returns {Promise<string>} a token: the kept one, else a new login's */
  function token() {
    var s = session();
    if (s) return Promise.resolve(s.token);
    return login().then(function (p) {
      return p.token;
    });
  }

  /**
   * Run call with a token. On UNAUTHENTICATED or SESSION_KEY_EXPIRED, log in
   * again and run it once more; a second failure is the caller's. Never more
   * than one retry: a server that keeps refusing must not cost a login loop.
   * @template T
   * @param {(token: string) => Promise<T>} call
   * @returns {Promise<T>}
   */
  function withSession(call) {
    return token().then(function (tok) {
      return call(tok).catch(function (/** @type {any} */ err) {
        if (!err || RELOGIN_CODES.indexOf(err.code) < 0) throw err;
        var s = session();
        if (s && s.token === tok) forget();
        // Another call may have logged in meanwhile: use its token.
        var again = session();
        var next = again ? Promise.resolve(again.token) : login().then(function (p) { return p.token; });
        return next.then(call);
      });
    });
  }

  /**
   * A GraphQL request with the session, logged in again once if need be.
   * @param {string} query
   * @param {Record<string, any>} [variables]
   * @returns {Promise<any>} the response's data
   */
  function call(query, variables) {
    return withSession(function (tok) {
      return post(query, variables || {}, tok);
    });
  }

  /**
   * Upload a file as a GraphQL multipart request (operations, map, then the
   * file: wx.uploadFile writes formData fields first, in insertion order, so
   * `operations` must be added before `map`).
   * @param {string} query
   * @param {string} variable the Upload variable's name
   * @param {string} filePath a local path, e.g. chooseAvatar's avatarUrl
   * @param {string} tok
   * @returns {Promise<any>}
   */
  function upload(query, variable, filePath, tok) {
    /** @type {Record<string, any>} */
    var variables = {};
    variables[variable] = null;
    return new Promise(function (resolve, reject) {
      wx.uploadFile({
        url: endpoint,
        filePath: filePath,
        name: '0',
        header: { 'GraphQL-Require-Preflight': '1', Authorization: 'Bearer ' + tok },
        formData: {
          operations: JSON.stringify({ query: query, variables: variables }),
          map: JSON.stringify({ 0: ['variables.' + variable] }),
        },
        success: function (res) {
          /** @type {any} */
          var body = null;
          try {
            body = JSON.parse(res.data);
          } catch (e) {
            body = null;
          }
          var err = responseError(res.statusCode, body);
          if (err) reject(err);
          else resolve(body.data);
        },
        fail: function (res) {
          reject(WxloginError('WX_UPLOADFILE', res.errMsg));
        },
      });
    });
  }

  return {
    /** Log in now with a new wx.login() code (also done on demand). */
    login: login,

    /** @returns {Promise<User>} */
    me: function () {
      return call(ME).then(function (d) {
        return d.me;
      });
    },

    /** @param {ProfileInput} input @returns {Promise<User>} */
    updateProfile: function (input) {
      return call(UPDATE_PROFILE, { input: input }).then(function (d) {
        return d.updateProfile;
      });
    },

    /**
     * The avatar picker's image (`e.detail.avatarUrl` of open-type="chooseAvatar").
     * @param {string} filePath @returns {Promise<User>}
     */
    uploadAvatar: function (filePath) {
      return withSession(function (tok) {
        return upload(UPLOAD_AVATAR, 'file', filePath, tok);
      }).then(function (d) {
        return d.uploadAvatar;
      });
    },

    /**
     * Bind the number from open-type="getPhoneNumber": pass `{ code: e.detail.code }`.
     * @param {PhoneInput} input @returns {Promise<User>}
     */
    bindPhoneNumber: function (input) {
      return call(BIND_PHONE, { input: input }).then(function (d) {
        return d.bindPhoneNumber;
      });
    },

    /** End the session on the server and forget it here. Never logs in. */
    logout: function () {
      var s = session();
      forget();
      if (!s) return Promise.resolve(false);
      return post(LOGOUT, {}, s.token).then(
        function (d) {
          return d.logout;
        },
        function (/** @type {any} */ err) {
          if (err && err.code === 'UNAUTHENTICATED') return false;
          throw err;
        }
      );
    },

    /**
     * The user's live sessions for a "devices" screen, this one first.
     * @param {number} [first] 1 to 50 (the server's default: 20)
     * @returns {Promise<Device[]>}
     */
    sessions: function (first) {
      return call(MY_SESSIONS, first ? { first: first } : {}).then(function (d) {
        return d.mySessions;
      });
    },

    /**
     * End one of the user's sessions, an id from sessions(). Ending this
     * one signs this client out; its next call logs in again.
     * @param {string} id @returns {Promise<boolean>}
     */
    revokeSession: function (id) {
      return call(REVOKE_SESSION, { id: id }).then(function (d) {
        return d.revokeMySession;
      });
    },

    /**
     * End every session of the user, or every other one with keepCurrent
     * ("log out other devices"); resolves to how many ended. Without
     * keepCurrent this client forgets its token too.
     * @param {boolean} [keepCurrent] @returns {Promise<number>}
     */
    logoutEverywhere: function (keepCurrent) {
      return call(LOGOUT_EVERYWHERE, { keepCurrent: !!keepCurrent }).then(function (d) {
        if (!keepCurrent) forget();
        return d.logoutEverywhere;
      });
    },

    /**
     * Everything the server stores about the user (PIPL Art. 45), parsed:
     * `version` 1, `user.id`, identities, sessions, consents, audit (the
     * three lists capped, newest first, with total and truncated). A
     * client that saves it for the user can JSON.stringify it again.
     * @returns {Promise<MyData>}
     */
    myData: function () {
      return call(MY_DATA).then(function (d) {
        return JSON.parse(d.myData);
      });
    },

    /**
     * Record that the user accepted the privacy policy of `version`, the
     * one the mini program showed; it must be the server's POLICY_VERSION
     * (BAD_USER_INPUT otherwise). The user then has consentRequired false.
     * @param {string} version @returns {Promise<User>}
     */
    acceptPolicy: function (version) {
      return call(ACCEPT_POLICY, { version: version }).then(function (d) {
        return d.acceptPolicy;
      });
    },

    /**
     * Delete the account (注销账号): the server ends every session of the
     * user and erases the account at `erasesAt`, after its cooling-off
     * period (注销冷静期; at once when `erased`). A login before then
     * cancels the deletion (AuthPayload.deletionCancelled). This client
     * forgets its token, and keeps `{ erasesAt }` for pendingDeletion() so
     * that the mini program does not log in by itself meanwhile.
     * Concurrent calls share one request: a second one sent after the
     * first dropped the token would log in, which cancels the deletion,
     * and then ask for it again.
     * @returns {Promise<AccountDeletion>}
     */
    deleteAccount: function () {
      if (!deleting) {
        deleting = call(DELETE_ACCOUNT).then(function (d) {
          /** @type {AccountDeletion} */
          var r = d.deleteAccount;
          forget();
          if (r.erased) wx.removeStorageSync(deletionKey);
          else wx.setStorageSync(deletionKey, { erasesAt: r.erasesAt });
          return r;
        });
        var done = function () {
          deleting = null;
        };
        deleting.then(done, done);
      }
      return deleting;
    },

    /**
     * Delete the account without a session: a fresh wx.login() code proves
     * who is asking. For a user whose login is USER_DISABLED (a disabled
     * user has no session, but may still delete the account), or one who
     * has no token on this device. Sent without a token (the server refuses
     * both at once); no login happens, so nothing is cancelled. Then as
     * deleteAccount(): the token is forgotten and the date kept. Rejects
     * with BAD_USER_INPUT when this WeChat user has no account.
     * @returns {Promise<AccountDeletion>}
     */
    deleteAccountWithCode: function () {
      return wxLoginCode()
        .then(function (code) {
          return post(DELETE_ACCOUNT_WITH_CODE, { code: code });
        })
        .then(function (d) {
          /** @type {AccountDeletion} */
          var r = d.deleteAccount;
          forget();
          if (r.erased) wx.removeStorageSync(deletionKey);
          else wx.setStorageSync(deletionKey, { erasesAt: r.erasesAt });
          return r;
        });
    },

    /**
     * The deletion this client asked for and that has not happened yet, as
     * `{ erasesAt }`, or null. While there is one, do not call anything that
     * logs in (every call does when there is no token): show the date and a
     * button whose login() cancels the deletion.
     * @returns {{ erasesAt: string } | null}
     */
    pendingDeletion: function () {
      /** @type {any} */
      var d = wx.getStorageSync(deletionKey);
      if (!d || typeof d.erasesAt !== 'string') return null;
      if (!(Date.parse(d.erasesAt) > Date.now())) {
        // Erased by now: the next login makes a new account.
        wx.removeStorageSync(deletionKey);
        return null;
      }
      return { erasesAt: d.erasesAt };
    },

    /**
     * Call listener with every login's answer (an explicit login() or one
     * made on demand), e.g. to tell the user when `deletionCancelled`.
     * Returns the function that stops it.
     * @param {(p: AuthPayload) => void} listener @returns {() => void}
     */
    onLogin: function (listener) {
      loginListeners.push(listener);
      return function () {
        var i = loginListeners.indexOf(listener);
        if (i >= 0) loginListeners.splice(i, 1);
      };
    },

    /** A raw GraphQL call with the session (and the one re-login). */
    call: call,

    /** The kept session, or null. */
    session: session,
  };
}

module.exports = { createClient: createClient, STORAGE_KEY: STORAGE_KEY, DELETION_KEY: DELETION_KEY, RELOGIN_CODES: RELOGIN_CODES };
