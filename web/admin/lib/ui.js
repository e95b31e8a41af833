// Shared pieces of the screens: formatting, states, avatars, pagers, dialogs.
import { h } from './dom.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const numberFmt = new Intl.NumberFormat();

export const num = (n) => numberFmt.format(n);

/** A <time> element for an RFC 3339 string; a dash for none. */
export function when(iso, empty = '—') {
	if (!iso) return h('span', { class: 'muted' }, empty);
	const d = new Date(iso);
	if (isNaN(d)) return h('span', null, iso);
	return h('time', { datetime: iso, title: d.toISOString() }, dateTime.format(d));
}

/** "in 1 minute", "in 15 minutes" for a wait in seconds. */
export function minutes(seconds) {
	const m = Math.max(1, Math.ceil(seconds / 60));
	return m === 1 ? '1 minute' : `${m} minutes`;
}

/** What to tell an operator about an ApiError. */
export function explain(err) {
	if (err.code === 'RATE_LIMITED') return `Too many attempts. Try again ${err.retryAfter != null ? `in ${minutes(err.retryAfter)}` : 'later'}.`;
	return { FORBIDDEN: 'Your role may not do this.', INTERNAL: 'Something went wrong on the server.', UNAUTHENTICATED: 'Your session has ended. Sign in again.' }[err.code] || err.message || 'The request failed.';
}

/** An alert for an error, with the request id of an INTERNAL one and a retry button. */
export function errorBox(err, retry) {
	return h('div', { class: 'alert alert-error', role: 'alert', 'data-code': err.code },
		h('p', null, explain(err)),
		err.requestId &&
			h('p', { class: 'small' }, 'Request ID ', h('code', { class: 'request-id' }, err.requestId), ' — quote it when you report this.'),
		retry && h('button', { type: 'button', class: 'btn', onClick: retry }, 'Try again'),
	);
}

export const loading = (text = 'Loading…') => h('p', { class: 'state loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);

export const empty = (text, ...extra) => h('div', { class: 'state empty' }, h('p', null, text), ...extra);

export function badge(text, kind = '') {
	return h('span', { class: ['badge', kind && 'badge-' + kind] }, text);
}

export const statusBadge = (disabled) => (disabled ? badge('Disabled', 'danger') : badge('Active', 'ok'));

/** An avatar: the https image, or one uploaded here (/avatars/…), else initials (a broken image falls back too). */
export function avatar(url, name, size = 'sm') {
	// One uploaded here, at this server's PUBLIC_URL: the same file as /avatars/….
	if (url && url.startsWith(location.origin + '/avatars/')) url = url.slice(location.origin.length);
	const img = url && /^(https:\/\/|\/avatars\/[0-9a-f]{64}\.jpg$)/i.test(url);
	const t = (name || '').trim();
	const box = h('span', { class: ['avatar', 'avatar-' + size] },
		h('span', img ? { 'aria-hidden': 'true' } : { role: 'img', 'aria-label': name ? `No avatar for ${name}` : 'No avatar' }, t ? Array.from(t)[0].toUpperCase() : '?'));
	if (img) {
		const px = size === 'lg' ? 64 : 32;
		const el = h('img', { src: url, alt: name ? `Avatar of ${name}` : 'Avatar', loading: 'lazy', referrerpolicy: 'no-referrer', width: px, height: px, onError: () => el.remove() });
		box.append(el);
	}
	return box;
}

export const dash = () => h('span', { class: 'muted' }, '—');

/** A labelled form control. */
export const field = (label, input, cls) => h('label', { class: ['field', cls] }, h('span', null, label), input);

export const nickname = (u) => (u.nickname ? u.nickname : h('span', { class: 'muted' }, '(no nickname)'));

/** Previous/next links; a disabled one is a plain span. */
export function pager(prevHref, nextHref, extra) {
	const link = (href, label, rel) =>
		href
			? h('a', { class: 'btn', href, rel, 'data-pager': rel }, label)
			: h('span', { class: 'btn', 'aria-disabled': 'true', 'data-pager': rel }, label);
	return h('nav', { class: 'pager', 'aria-label': 'Pages' }, link(prevHref, '← Previous', 'prev'), extra, link(nextHref, 'Next →', 'next'));
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
	const cancel = h('button', { type: 'button', class: 'btn', onClick: () => dlg.close() }, 'Cancel');
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
	document.title = `${text} · wxlogin admin`;
}
