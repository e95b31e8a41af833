// Admin accounts (ADMIN only; app.js shows a VIEWER neither the link nor
// the screen): the list, a new account with a one-time password shown once
// or one the creator types, and per account a role change, disable/enable,
// a password reset and ending their sessions. The server keeps the rules
// (the last enabled ADMIN, nothing done to oneself that skips a check): the
// page only leaves out the buttons that could never work.
import { h, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { badge, confirmDialog, empty, errorBox, field, loading, raw, roleName, titled, when } from '../lib/ui.js';
import { t, tn, tp } from '../lib/i18n.js';

const FIELDS = `id username role disabled createdAt lastLoginAt mustChangePassword`;
const LIST = `query Admins { admins { ${FIELDS} } }`;
const CREATE = `mutation CreateAdmin($u: String!, $r: Role!, $p: String) { createAdmin(username: $u, role: $r, password: $p) { admin { id username } generatedPassword } }`;
const ROLE = `mutation SetAdminRole($id: ID!, $r: Role!) { setAdminRole(id: $id, role: $r) { id } }`;
const DISABLE = `mutation DisableAdmin($id: ID!) { disableAdmin(id: $id) { id } }`;
const ENABLE = `mutation EnableAdmin($id: ID!) { enableAdmin(id: $id) { id } }`;
const RESET = `mutation ResetAdminPassword($id: ID!, $p: String) { resetAdminPassword(id: $id, password: $p) { admin { id username } generatedPassword } }`;
const END = `mutation EndAdminSessions($id: ID!) { endAdminSessions(id: $id) }`;

/** key's text as parts, with the username name as data (translate="no"). */
const named = (key, name, params) => tp(key, { ...params, name: raw(name) });

export function mount(main, ctx) {
	titled(t('admins.title'));
	const me = ctx.admin || {};
	let ctrl;
	const msg = h('div', { id: 'admins-msg', 'aria-live': 'polite' });
	const shown = h('div', { id: 'admins-password' }); // a generated password, once
	const list = h('div');

	/** Says what was done: key's text with the admin's name (data, never translated) in it. */
	function say(key, name, params) {
		replace(msg, h('div', { class: 'alert alert-info', role: 'status' }, named(key, name, params)));
		ctx.announce(t(key, { name, ...params }));
	}
	const fail = (e) => replace(msg, errorBox(e));

	async function load() {
		ctrl?.abort();
		ctrl = new AbortController();
		main.setAttribute('aria-busy', 'true');
		try {
			const d = await gql(LIST, {}, { signal: ctrl.signal });
			replace(list, table(d.admins));
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(list, errorBox(e, load));
		}
		main.removeAttribute('aria-busy');
	}

	/** Runs a change, then says done and lists again. */
	async function act(query, vars, key, name, params) {
		await gql(query, vars);
		say(key, name, params);
		await load();
	}

	/** Shows a generated password once, with a copy button and the warning. */
	function showPassword(name, pw) {
		const code = raw(pw, 'code', { class: 'secret', 'data-generated-password': '' });
		const copy = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'copy', onClick: async () => {
			try {
				await navigator.clipboard.writeText(pw);
				copy.textContent = t('admins.copied');
			} catch {
				copy.textContent = t('admins.copyFailed');
			}
		} }, t('admins.copy'));
		replace(shown, h('div', { class: 'alert alert-warn', role: 'alert', 'data-warning': '' },
			h('p', null, named('admins.generatedFor', name)),
			h('p', null, code, ' ', copy),
			h('p', null, t('admins.generatedWarning')),
			h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'dismiss', onClick: () => shown.replaceChildren() }, t('admins.dismiss'))));
		shown.querySelector('button').focus();
	}

	function table(admins) {
		if (!admins.length) return empty(t('admins.none'));
		const rows = admins.map((a) => {
			const self = a.id === me.id;
			const other = a.role === 'ADMIN' ? 'VIEWER' : 'ADMIN';
			const btn = (action, label, onClick, danger) =>
				h('button', { type: 'button', class: ['btn', 'btn-small', danger && 'btn-danger'], 'data-action': action, 'aria-label': label + ' · ' + a.username, onClick }, label);
			const actions = [
				btn('role', other === 'ADMIN' ? t('admins.makeAdmin') : t('admins.makeViewer'), () => confirmDialog({
					title: named('admins.roleTitle', a.username, { role: roleName(other) }),
					text: self ? t('admins.roleSelfText') : t('admins.roleText'), warn: self,
					confirmLabel: t('admins.roleConfirm'),
					onConfirm: () => act(ROLE, { id: a.id, r: other }, 'admins.roleDone', a.username, { role: roleName(other) }),
				})),
			];
			if (a.disabled) {
				actions.push(btn('enable', t('admins.enable'), () => act(ENABLE, { id: a.id }, 'admins.enabled', a.username).catch(fail)));
			} else if (!self) {
				actions.push(btn('disable', t('admins.disable'), () => confirmDialog({
					title: named('admins.disableTitle', a.username), text: t('admins.disableText'), confirmLabel: t('admins.disable'), danger: true,
					onConfirm: () => act(DISABLE, { id: a.id }, 'admins.disabled', a.username),
				}), true));
			}
			if (self) {
				actions.push(h('a', { class: 'btn btn-small', href: '/admin/account' }, t('account.title')));
			} else {
				actions.push(btn('reset', t('admins.reset'), () => resetDialog(a)));
			}
			actions.push(btn('end-sessions', t('admins.endSessions'), () => confirmDialog({
				title: named('admins.endTitle', a.username), text: self ? t('admins.endSelfText') : t('admins.endText'), warn: self,
				confirmLabel: t('admins.endSessions'), danger: true,
				onConfirm: async () => {
					const n = (await gql(END, { id: a.id })).endAdminSessions;
					const text = tn('admins.ended', n, { name: a.username });
					replace(msg, h('div', { class: 'alert alert-info', role: 'status' }, text));
					ctx.announce(text);
					await load();
				},
			})));
			return h('tr', { 'data-admin-id': a.id, 'data-username': a.username },
				h('td', { 'data-label': t('admins.username') }, raw(a.username, 'strong'), self && [' ', badge(t('admins.you'), 'kind')]),
				h('td', { 'data-label': t('admins.role') }, badge(roleName(a.role), a.role === 'ADMIN' ? 'kind' : ''), a.mustChangePassword && [' ', badge(t('admins.mustChange'), 'warn')]),
				h('td', { 'data-label': t('admins.status') }, a.disabled ? badge(t('admins.statusDisabled'), 'danger') : badge(t('common.active'), 'ok')),
				h('td', { 'data-label': t('admins.createdAt') }, when(a.createdAt)),
				h('td', { 'data-label': t('admins.lastSignIn') }, when(a.lastLoginAt, t('common.never'))),
				h('td', { class: 'cell-actions' }, actions));
		});
		const th = (text) => h('th', { scope: 'col' }, text);
		return h('div', { class: 'table-wrap' }, h('table', { class: 'table cards', id: 'admins-table' },
			h('thead', null, h('tr', null, th(t('admins.username')), th(t('admins.role')), th(t('admins.status')), th(t('admins.createdAt')), th(t('admins.lastSignIn')), th(t('admins.actions')))),
			h('tbody', null, rows)));
	}

	/** A password choice: generated (the default) or typed; returns [controls, value()]. */
	function passwordChoice(name) {
		const input = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: 12, maxlength: 1024, disabled: true, 'aria-label': t('admins.password') });
		const radio = (value, label, checked) => h('label', { class: 'choice' },
			h('input', { type: 'radio', name: name, value, checked, onChange: () => { input.disabled = value === 'generate'; if (!input.disabled) input.focus(); } }), ' ', label);
		const controls = h('fieldset', { class: 'field' }, h('legend', null, t('admins.password')),
			radio('generate', t('admins.generate'), true), radio('set', t('admins.setOne'), false), input);
		return [controls, () => (input.disabled ? null : input.value)];
	}

	function resetDialog(a) {
		const [choice, value] = passwordChoice('reset-pw');
		const errorSlot = h('div');
		const confirm = h('button', { type: 'submit', class: 'btn btn-danger', 'data-confirm': '' }, t('admins.reset'));
		const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title', onClose: () => dlg.remove() },
			h('form', { onSubmit: async (ev) => {
				ev.preventDefault();
				confirm.disabled = true;
				try {
					const r = (await gql(RESET, { id: a.id, p: value() })).resetAdminPassword;
					dlg.close();
					say('admins.resetDone', a.username);
					if (r.generatedPassword) showPassword(a.username, r.generatedPassword);
					await load();
				} catch (e) {
					replace(errorSlot, errorBox(e));
					confirm.disabled = false;
				}
			} },
			h('h2', { id: 'dlg-title' }, named('admins.resetTitle', a.username)),
			h('p', null, t('admins.resetText')),
			choice, errorSlot,
			h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', onClick: () => dlg.close() }, t('common.cancel')), confirm)));
		document.body.append(dlg);
		dlg.showModal();
	}

	// The new-account form.
	const username = h('input', { name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true, maxlength: 64 });
	const role = h('select', { name: 'role' }, h('option', { value: 'VIEWER' }, roleName('VIEWER')), h('option', { value: 'ADMIN' }, roleName('ADMIN')));
	const [choice, password] = passwordChoice('new-pw');
	const create = h('button', { type: 'submit', class: 'btn btn-primary' }, t('admins.create'));
	const form = h('form', { id: 'admin-create', class: 'panel', onSubmit: async (ev) => {
		ev.preventDefault();
		create.disabled = true;
		try {
			const r = (await gql(CREATE, { u: username.value.trim(), r: role.value, p: password() })).createAdmin;
			form.reset();
			choice.querySelector('input[type=password]').disabled = true;
			say('admins.createdDone', r.admin.username);
			if (r.generatedPassword) showPassword(r.admin.username, r.generatedPassword);
			await load();
		} catch (e) {
			fail(e);
		}
		create.disabled = false;
	} },
	h('h2', null, t('admins.new')),
	field(t('admins.username'), username), field(t('admins.role'), role), choice,
	h('p', { class: 'muted small' }, t('admins.newNote')),
	create);

	replace(main, h('h1', { tabindex: '-1' }, t('admins.title')), h('p', { class: 'muted' }, t('admins.intro')), msg, shown, list, form);
	list.append(loading());
	load();
	return { unmount: () => ctrl?.abort() };
}
