// The dashboard's language: every word a person sees comes from one
// catalogue per language (../i18n/en.js, ../i18n/zh-CN.js), loaded before
// any screen renders. The language follows the browser (zh, zh-CN, zh-TW …
// give Chinese, anything else English) until the admin picks one with the
// switch, which is remembered in this browser.
//
// A catalogue maps a key to a text; {name} in a text is filled in from the
// params. A key with plural forms has "key.one" and "key.other" (Chinese
// gives both the same text); tn() picks one by count.

const STORE = 'wxlogin.lang';

/** The languages the dashboard speaks, as BCP 47 tags. */
export const LANGS = ['zh-CN', 'en'];

/** Picks the language: the remembered choice, else the browser's. */
export function pickLang(stored, browser) {
	if (LANGS.includes(stored)) return stored;
	return /^zh\b/i.test(browser || '') ? 'zh-CN' : 'en';
}

function stored() {
	try {
		return localStorage.getItem(STORE);
	} catch {
		return null; // storage blocked: follow the browser
	}
}

/** The language in use. */
export const lang = pickLang(stored(), navigator.language);
document.documentElement.lang = lang;

const catalogue = (await import(`../i18n/${lang}.js`)).default;

/** Remembers the admin's choice and reloads the page in that language. */
export function setLang(l) {
	if (!LANGS.includes(l) || l === lang) return;
	try {
		localStorage.setItem(STORE, l);
	} catch {
		// storage blocked: the choice lasts for this page only
	}
	location.reload();
}

function fill(text, params) {
	return params ? text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m)) : text;
}

/** The text of key, with {name}s filled in; the key itself when missing, so a gap shows. */
export function t(key, params) {
	const text = catalogue[key];
	return text === undefined ? key : fill(text, params);
}

/** The plural form of key for count n ({n} is filled in too). */
export function tn(key, n, params) {
	const rule = new Intl.PluralRules(lang).select(n) === 'one' ? 'one' : 'other';
	return t(`${key}.${rule}`, { n: num(n), ...params });
}

/**
 * The text of key as parts for h()/append(): a {name} whose param is a DOM
 * node (a <time>, a link) becomes that node, so a sentence can hold elements
 * in whatever word order the language needs.
 */
export function tp(key, params) {
	const text = catalogue[key] ?? key;
	return text.split(/(\{\w+\})/).filter(Boolean).map((part) => {
		const m = part.match(/^\{(\w+)\}$/);
		return m && m[1] in params ? params[m[1]] : part;
	});
}

/** Whether the catalogue has key (for codes from the server, e.g. an error code). */
export function has(key) {
	return key in catalogue;
}

const numberFmt = new Intl.NumberFormat(lang);
const dateTimeFmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
const dateFmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });

/** A number in the page's language (1,234 / 1,234). */
export function num(n) {
	return numberFmt.format(n);
}

/** A date and time in the page's language and the viewer's time zone. */
export function dateTime(d) {
	return dateTimeFmt.format(new Date(d));
}

/** A date in the page's language and the viewer's time zone. */
export function date(d) {
	return dateFmt.format(new Date(d));
}
