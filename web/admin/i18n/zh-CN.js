// 简体中文. Every key here is in en.js too, and used by the dashboard
// (web/admin_i18n_test.go checks both). One entry per line.
export default {
	'lang.name': '简体中文',
	'lang.switch': '语言',
};
