// The app: one wxlogin client for every page (getApp().api).
const { createClient } = require('./lib/wxlogin.js');

// The wxlogin server. A real mini program needs an https origin listed in its
// request and uploadFile legal domains; in WeChat DevTools you may tick
// "Does not verify valid domain names" to reach a local server.
const SERVER_URL = 'http://127.0.0.1:8080';

// The version of the privacy policy and terms this build of the mini program
// shows; the server's POLICY_VERSION must be the same (acceptPolicy refuses
// another). Raise both together when the policy changes: every user is asked
// again.
const POLICY_VERSION = '2026-11';

App({
  api: createClient({ wx, baseUrl: SERVER_URL }),
  policyVersion: POLICY_VERSION,
});
