// Shared pieces of the screens: formatting, states, avatars, pagers, dialogs.
import { h } from './dom.js';
import { t, tn, tp, has, num, dateTime, lang, LANGS, LANG_NAMES, setLang } from './i18n.js';

export { num };

/** A <time> element for an RFC 3339 string; a dash for none. */
export function when(iso, empty = '—') {
	if (!iso) return h('span', { class: 'muted' }, empty);
	const d = new Date(iso);
	if (isNaN(d)) return h('span', null, iso);
	return h('time', { datetime: iso, title: d.toISOString() }, dateTime(d));
}

/** "1 minute", "15 minutes" for a wait in seconds. */
export function minutes(seconds) {
	return tn('common.minutes', Math.max(1, Math.ceil(seconds / 60)));
}

/**
 * What to tell an operator about an ApiError, by its code in the page's
 * language. The server's own message (English) is kept for a bad input,
 * where it says what was wrong: see errorBox.
 */
export function explain(err) {
	if (err.code === 'RATE_LIMITED' && err.retryAfter != null) return t('common.rateLimitedWait', { wait: minutes(err.retryAfter) });
	return t(has('error.' + err.code) ? 'error.' + err.code : 'error.UNKNOWN', { status: err.status });
}

/** An alert for an error, with the request id of an INTERNAL one and a retry button. */
export function errorBox(err, retry) {
	return h('div', { class: 'alert alert-error', role: 'alert', 'data-code': err.code },
		h('p', null, explain(err)),
		// The server's words on a bad input say what was wrong; a script's own error (no code) says where.
		(err.code === 'BAD_USER_INPUT' || !err.code) && err.message && h('p', { class: 'small', lang: 'en', translate: 'no' }, err.message),
		err.requestId &&
			h('p', { class: 'small' }, tp('common.requestId', { id: h('code', { class: 'request-id', translate: 'no' }, err.requestId) })),
		retry && h('button', { type: 'button', class: 'btn', onClick: retry }, t('common.retry')),
	);
}

export const loading = (text = t('common.loading')) => h('p', { class: 'state loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);

export const empty = (text, ...extra) => h('div', { class: 'state empty' }, h('p', null, text), ...extra);

export function badge(text, kind = '') {
	return h('span', { class: ['badge', kind && 'badge-' + kind] }, text);
}

export const statusBadge = (disabled) => (disabled ? badge(t('common.disabled'), 'danger') : badge(t('common.active'), 'ok'));

/** An admin's role in the page's language. */
export const roleName = (role) => (role === 'ADMIN' ? t('common.roleAdmin') : role === 'VIEWER' ? t('common.roleViewer') : role);

/** Data shown as it is (an id, a nickname, a user agent): never translated. */
export const raw = (text, tag = 'span', props) => h(tag, { translate: 'no', ...props }, text);

/** The language switch: each language named in its own language, remembered (setLang). */
export function langSwitch() {
	return h('select', { class: 'lang-switch', 'aria-label': t('lang.switch'), title: t('lang.switch'), 'data-lang-switch': '', onChange: (e) => setLang(e.target.value) },
		LANGS.map((l) => h('option', { value: l, lang: l, selected: l === lang }, LANG_NAMES[l])));
}

/** An avatar: the https image, or one uploaded here (/avatars/…), else initials (a broken image falls back too). */
export function avatar(url, name, size = 'sm') {
	// One uploaded here, at this server's PUBLIC_URL: the same file as /avatars/….
	if (url && url.startsWith(location.origin + '/avatars/')) url = url.slice(location.origin.length);
	const img = url && /^(https:\/\/|\/avatars\/[0-9a-f]{64}\.jpg$)/i.test(url);
	const initial = (name || '').trim();
	const box = h('span', { class: ['avatar', 'avatar-' + size] },
		h('span', img ? { 'aria-hidden': 'true' } : { role: 'img', 'aria-label': name ? t('common.noAvatarOf', { name }) : t('common.noAvatar') }, raw(initial ? Array.from(initial)[0].toUpperCase() : '?')));
	if (img) {
		const px = size === 'lg' ? 64 : 32;
		const el = h('img', { src: url, alt: name ? t('common.avatarOf', { name }) : t('common.avatar'), loading: 'lazy', referrerpolicy: 'no-referrer', width: px, height: px, onError: () => el.remove() });
		box.append(el);
	}
	return box;
}

export const dash = () => h('span', { class: 'muted' }, '—');

/** A labelled form control. */
export const field = (label, input, cls) => h('label', { class: ['field', cls] }, h('span', null, label), input);

export const nickname = (u) => (u.nickname ? raw(u.nickname) : h('span', { class: 'muted' }, t('common.noNickname')));

/** Previous/next links; a disabled one is a plain span. */
export function pager(prevHref, nextHref, extra) {
	const link = (href, label, rel) =>
		href
			? h('a', { class: 'btn', href, rel, 'data-pager': rel }, label)
			: h('span', { class: 'btn', 'aria-disabled': 'true', 'data-pager': rel }, label);
	return h('nav', { class: 'pager', 'aria-label': t('common.pages') }, link(prevHref, t('common.prev'), 'prev'), extra, link(nextHref, t('common.next'), 'next'));
}

/**
 * A modal confirmation in a <dialog>. onConfirm(reason) runs while the
 * dialog stays open; a thrown error is shown in it, success closes it.
 * With reasonRequired the confirm button stays disabled until a reason
 * (not only spaces) is typed; warn shows the text as a warning.
 */
export function confirmDialog({ title, text, warn, confirmLabel, danger, reasonLabel, reasonRequired, onConfirm }) {
	const errorSlot = h('div');
	let reason;
	const missing = () => !!reasonRequired && !reason.value.trim();
	const confirm = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-confirm': '', disabled: !!reasonRequired }, confirmLabel);
	const cancel = h('button', { type: 'button', class: 'btn', onClick: () => dlg.close() }, t('common.cancel'));
	const form = h('form', {
			onSubmit: async (ev) => {
				ev.preventDefault();
				if (missing()) return;
				confirm.disabled = cancel.disabled = true;
				errorSlot.replaceChildren();
				try {
					await onConfirm(reason ? reason.value.trim() : undefined);
					dlg.close();
					// The opener may be gone with the re-rendered page: focus its heading.
					if (!document.activeElement || document.activeElement === document.body) document.querySelector('main h1')?.focus();
				} catch (e) {
					if (e.name === 'AbortError') return;
					errorSlot.append(errorBox(e));
					cancel.disabled = false;
					confirm.disabled = missing();
				}
			},
		},
		h('h2', { id: 'dlg-title' }, title),
		h('p', warn ? { class: 'alert alert-warn', 'data-warning': '' } : null, text),
		reasonLabel &&
			h('label', { class: 'field' }, h('span', null, reasonLabel),
				(reason = h('textarea', { name: 'reason', rows: 3, maxlength: 500, required: !!reasonRequired, onInput: () => (confirm.disabled = missing()) }))),
		errorSlot,
		h('div', { class: 'actions' }, cancel, confirm),
	);
	const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title', onClose: () => dlg.remove() }, form);
	document.body.append(dlg);
	dlg.showModal();
	(reason || cancel).focus();
	return dlg;
}

/** Sets the page's title. */
export function titled(text) {
	document.title = t('common.title', { page: text });
}
