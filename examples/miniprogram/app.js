// The app: one wxlogin client for every page (getApp().api).
const { createClient } = require('./lib/wxlogin.js');

// The wxlogin server. A real mini program needs an https origin listed in its
// request and uploadFile legal domains; in WeChat DevTools you may tick
// "Does not verify valid domain names" to reach a local server.
const SERVER_URL = 'http://127.0.0.1:8080';

App({
  api: createClient({ wx, baseUrl: SERVER_URL }),
});
