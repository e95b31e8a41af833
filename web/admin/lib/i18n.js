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

/** Each language's name in itself, for the switch: the same in every language, so not in a catalogue. */
export const LANG_NAMES = { 'zh-CN': '简体中文', en: 'English' };

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
	const rule = plural.select(n) === 'one' ? 'one' : 'other';
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

/** The keys under prefix, in catalogue order (e.g. every 'action.' the server writes). */
export function keys(prefix) {
	return Object.keys(catalogue).filter((k) => k.startsWith(prefix));
}

const plural = new Intl.PluralRules(lang);
const numberFmt = new Intl.NumberFormat(lang);
const dateTimeFmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
const dateFmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
// A calendar day the server named ("2026-12-07"): read at UTC midnight and
// shown in UTC, so it stays that day whatever the viewer's zone.
const dayFmt = new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const compactFmt = new Intl.NumberFormat(lang, { notation: 'compact' });

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

/** A calendar day ("2026-12-07", no zone) as a short month and day: Dec 7, 12月7日. */
export function day(ymd) {
	return dayFmt.format(new Date(ymd + 'T00:00:00Z'));
}

/** A number, short (1.2K, 1.2万), for a chart's axis. */
export function compact(n) {
	return compactFmt.format(n);
}

/** An IANA time zone's name in the page's language (China Standard Time, 中国标准时间); the id if it has none. */
export function zoneName(zone) {
	try {
		return new Intl.DateTimeFormat(lang, { timeZone: zone, timeZoneName: 'long' }).formatToParts(0).find((p) => p.type === 'timeZoneName')?.value || zone;
	} catch {
		return zone; // a zone this browser does not know
	}
}
