// Sign in: username and password for adminLogin.
import { h } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { errorBox, explain, langSwitch, titled } from '../lib/ui.js';
import { t } from '../lib/i18n.js';

const LOGIN = `mutation SignIn($u: String!, $p: String!) {
	adminLogin(username: $u, password: $p) { token admin { id username role } }
}`;

export function mount(main, ctx) {
	titled(t('signin.title'));
	const msg = h('div', { id: 'signin-msg', 'aria-live': 'polite' });
	if (ctx.notice) msg.append(h('div', { class: 'alert alert-info', role: 'status' }, ctx.notice));
	let username, password;
	const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('signin.submit'));
	const form = h('form', { class: 'signin-form', novalidate: true, onSubmit },
		h('label', { class: 'field' }, h('span', null, t('signin.username')), (username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }))),
		h('label', { class: 'field' }, h('span', null, t('signin.password')), (password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }))),
		msg,
		submit,
	);
	main.append(
		h('section', { class: 'signin' },
			h('div', { class: 'signin-top' }, h('p', { class: 'brand brand-lg' }, 'wxlogin', h('span', null, t('nav.brandSuffix'))), langSwitch()),
			h('h1', { tabindex: '-1' }, t('signin.title')),
			h('p', { class: 'muted' }, t('signin.intro')),
			form,
		),
	);
	username.focus();

	async function onSubmit(ev) {
		ev.preventDefault();
		msg.replaceChildren();
		if (!username.value.trim() || !password.value) {
			msg.append(h('div', { class: 'alert alert-error', role: 'alert' }, t('signin.missing')));
			(username.value.trim() ? password : username).focus();
			return;
		}
		submit.disabled = true;
		submit.textContent = t('signin.busy');
		try {
			// same-origin: the device cookie (HttpOnly: this script never sees it)
			// goes with the sign-in and a fresh one comes back.
			const d = await gql(LOGIN, { u: username.value.trim(), p: password.value }, { credentials: 'same-origin' });
			ctx.onSignedIn(d.adminLogin.token, d.adminLogin.admin);
		} catch (e) {
			submit.disabled = false;
			submit.textContent = t('signin.submit');
			const mine = e.code === 'INVALID_CREDENTIALS' || e.code === 'RATE_LIMITED';
			msg.append(mine ? h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, explain(e)) : errorBox(e));
			password.value = '';
			password.focus();
		}
	}
	return {};
}
