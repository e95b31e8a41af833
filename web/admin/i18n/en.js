// English. Every key here is in zh-CN.js too, and used by the dashboard
// (web/admin_i18n_test.go checks both). One entry per line.
export default {
	'lang.name': 'English',
	'lang.switch': 'Language',
};
