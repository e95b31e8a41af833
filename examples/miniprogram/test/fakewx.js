// A fake `wx` for Node: request, uploadFile and login over real HTTP
// (Node's fetch) against a dev-mode wxlogin server, storage in memory. It
// records every request so tests can count them.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

/**
 * @param {string} baseUrl the dev-mode server, e.g. http://127.0.0.1:8080
 * @param {object} opts
 * @param {string} opts.user the simulator's user whose wx.login() codes we mint
 * @param {(req: {op: string, header: Record<string,string>}) => (object|undefined)} [opts.intercept]
 *   sees each wx.request before it is sent and may change its header; a
 *   returned object is answered instead of sending (as HTTP 200 JSON).
 * @param {(modal: {title: string, content: string}) => boolean} [opts.answer]
 *   the user's answer to each wx.showModal: true presses confirm (the default).
 * @param {string} [opts.userDataPath] the directory behind wx.env.USER_DATA_PATH
 *   (a real one, so getFileSystemManager's writes can be read back)
 */
function fakeWx(baseUrl, opts) {
  const storage = new Map();
  /** every wx.showModal, in order: { title, content, showCancel, confirmed } */
  const modals = [];
  /** every wx.showToast, in order: { title, icon } */
  const toasts = [];
  /** every wx.shareFileMessage: { filePath, fileName } */
  const shared = [];
  /** every wx.request / wx.uploadFile, in order: { api, op, auth } */
  const calls = [];
  const counts = { login: 0, request: 0, uploadFile: 0 };
  /** the multipart part names of each uploadFile, in the order sent */
  const uploadParts = [];

  // The real wx calls back asynchronously, never inside the call.
  const later = (fn, arg) => setImmediate(() => fn && fn(arg));
  // A client caught in a loop is cut off here, so its test fails at once
  // (no test needs more than a handful of calls).
  const maxCalls = 50;
  const cutOff = () => counts.login + counts.request + counts.uploadFile > maxCalls;

  const wx = {
    login({ success, fail } = {}) {
      counts.login++;
      if (cutOff()) return later(fail, { errMsg: 'login:fail the fake wx allows ' + maxCalls + ' calls' });
      fetch(baseUrl + '/dev/wechat/code', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ user: opts.user }),
      })
        .then((r) => r.json())
        .then(
          (j) => (j.code ? later(success, { code: j.code, errMsg: 'login:ok' }) : later(fail, { errMsg: 'login:fail ' + j.error })),
          (e) => later(fail, { errMsg: 'login:fail ' + e.message })
        );
    },

    request({ url, method = 'GET', header = {}, data, dataType = 'json', success, fail }) {
      counts.request++;
      if (cutOff()) return later(fail, { errMsg: 'request:fail the fake wx allows ' + maxCalls + ' calls' });
      const op = operationName(data && data.query);
      header = { ...header };
      const canned = opts.intercept && opts.intercept({ op, header });
      calls.push({ api: 'request', op, auth: header.Authorization || '' });
      if (canned) {
        later(success, { data: canned, statusCode: 200, header: {}, errMsg: 'request:ok' });
        return;
      }
      fetch(url, { method, headers: header, body: typeof data === 'string' ? data : JSON.stringify(data) })
        .then(async (r) => {
          const text = await r.text();
          let body = text;
          // wx parses JSON when dataType is json, and leaves the string otherwise.
          if (dataType === 'json') {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          later(success, { data: body, statusCode: r.status, header: Object.fromEntries(r.headers), errMsg: 'request:ok' });
        })
        .catch((e) => later(fail, { errMsg: 'request:fail ' + e.message }));
    },

    // As WeChat does: multipart/form-data with the formData fields first,
    // in their insertion order, then the file under `name`.
    uploadFile({ url, filePath, name, header = {}, formData = {}, success, fail }) {
      counts.uploadFile++;
      if (cutOff()) return later(fail, { errMsg: 'uploadFile:fail the fake wx allows ' + maxCalls + ' calls' });
      calls.push({ api: 'uploadFile', op: operationName(safeJSON(formData.operations).query), auth: header.Authorization || '' });
      let file;
      try {
        file = fs.readFileSync(filePath);
      } catch (e) {
        later(fail, { errMsg: 'uploadFile:fail ' + e.message });
        return;
      }
      const boundary = '----wxfake' + crypto.randomBytes(8).toString('hex');
      const chunks = [];
      const names = [];
      for (const [k, v] of Object.entries(formData)) {
        names.push(k);
        chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
      }
      names.push(name);
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${path.basename(filePath)}"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n'
        ),
        file,
        Buffer.from(`\r\n--${boundary}--\r\n`)
      );
      uploadParts.push(names);
      fetch(url, {
        method: 'POST',
        headers: { ...header, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        body: Buffer.concat(chunks),
      })
        .then(async (r) => later(success, { data: await r.text(), statusCode: r.status, errMsg: 'uploadFile:ok' }))
        .catch((e) => later(fail, { errMsg: 'uploadFile:fail ' + e.message }));
    },

    // The user reads the dialog, then presses a button.
    showModal({ title = '', content = '', showCancel = true, success, fail }) {
      const confirmed = opts.answer ? !!opts.answer({ title, content }) : true;
      modals.push({ title, content, showCancel, confirmed });
      later(success, { confirm: confirmed, cancel: !confirmed, errMsg: 'showModal:ok' });
      void fail;
    },

    // A toast: shown, then gone by itself; nothing to answer.
    showToast({ title = '', icon = 'success', success } = {}) {
      toasts.push({ title, icon });
      later(success, { errMsg: 'showToast:ok' });
    },

    env: { USER_DATA_PATH: opts.userDataPath || '/nonexistent/wxfile-usr' },

    // The mini program's own files: only under USER_DATA_PATH, as WeChat allows.
    getFileSystemManager() {
      const inside = (p) => typeof p === 'string' && opts.userDataPath && p.startsWith(opts.userDataPath + '/');
      return {
        writeFile({ filePath, data, encoding = 'utf8', success, fail }) {
          if (!inside(filePath)) return later(fail, { errMsg: 'writeFile:fail permission denied, open ' + filePath });
          fs.writeFile(filePath, data, { encoding }, (err) =>
            err ? later(fail, { errMsg: 'writeFile:fail ' + err.message }) : later(success, { errMsg: 'writeFile:ok' })
          );
        },
      };
    },

    shareFileMessage({ filePath, fileName, success }) {
      shared.push({ filePath, fileName });
      later(success, { errMsg: 'shareFileMessage:ok' });
    },

    // wx storage keeps a copy, and answers '' for a missing key.
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };

  return {
    wx,
    counts,
    calls,
    uploadParts,
    modals,
    toasts,
    shared,
    /** how many wx.request calls named operation op */
    ops: (op) => calls.filter((c) => c.op === op).length,
  };
}

function operationName(query) {
  const m = /^\s*(?:query|mutation)\s+(\w+)/.exec(query || '');
  return m ? m[1] : '';
}

function safeJSON(s) {
  try {
    return JSON.parse(s) || {};
  } catch {
    return {};
  }
}

module.exports = { fakeWx };
