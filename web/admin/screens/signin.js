// Sign in: username and password for adminLogin.
import { h } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { errorBox, explain, titled } from '../lib/ui.js';

const LOGIN = `mutation SignIn($u: String!, $p: String!) {
	adminLogin(username: $u, password: $p) { token admin { id username role } }
}`;

export function mount(main, ctx) {
	titled('Sign in');
	const msg = h('div', { id: 'signin-msg', 'aria-live': 'polite' });
	if (ctx.notice) msg.append(h('div', { class: 'alert alert-info', role: 'status' }, ctx.notice));
	let username, password;
	const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
	const form = h('form', { class: 'signin-form', novalidate: true, onSubmit },
		h('label', { class: 'field' }, h('span', null, 'Username'), (username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }))),
		h('label', { class: 'field' }, h('span', null, 'Password'), (password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }))),
		msg,
		submit,
	);
	main.append(
		h('section', { class: 'signin' },
			h('p', { class: 'brand brand-lg' }, 'wxlogin', h('span', null, ' admin')),
			h('h1', { tabindex: '-1' }, 'Sign in'),
			h('p', { class: 'muted' }, 'Operators only. Your session ends when you close this tab.'),
			form,
		),
	);
	username.focus();

	async function onSubmit(ev) {
		ev.preventDefault();
		msg.replaceChildren();
		if (!username.value.trim() || !password.value) {
			msg.append(h('div', { class: 'alert alert-error', role: 'alert' }, 'Enter your username and password.'));
			(username.value.trim() ? password : username).focus();
			return;
		}
		submit.disabled = true;
		submit.textContent = 'Signing in…';
		try {
			// same-origin: the device cookie (HttpOnly: this script never sees it)
			// goes with the sign-in and a fresh one comes back.
			const d = await gql(LOGIN, { u: username.value.trim(), p: password.value }, { credentials: 'same-origin' });
			ctx.onSignedIn(d.adminLogin.token, d.adminLogin.admin);
		} catch (e) {
			submit.disabled = false;
			submit.textContent = 'Sign in';
			const mine = e.code === 'INVALID_CREDENTIALS' || e.code === 'RATE_LIMITED';
			msg.append(mine ? h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, e.code === 'RATE_LIMITED' ? explain(e) : 'Wrong username or password.') : errorBox(e));
			password.value = '';
			password.focus();
		}
	}
	return {};
}
