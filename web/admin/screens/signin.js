// Sign in: username and password for adminLogin, then, for an admin with
// two-step sign-in (TOTP_REQUIRED), the authenticator app's code or a
// recovery code sent with them again.
import { h } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { errorBox, explain, langSwitch, titled } from '../lib/ui.js';
import { t } from '../lib/i18n.js';

const LOGIN = `mutation SignIn($u: String!, $p: String!, $otp: String) {
	adminLogin(username: $u, password: $p, otp: $otp) { token totpEnrolmentRequired admin { id username role mustChangePassword } }
}`;

export function mount(main, ctx) {
	titled(t('signin.title'));
	const msg = h('div', { id: 'signin-msg', 'aria-live': 'polite' });
	if (ctx.notice) msg.append(h('div', { class: 'alert alert-info', role: 'status' }, ctx.notice));
	let username, password, code;
	const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('signin.submit'));
	const form = h('form', { class: 'signin-form', novalidate: true, onSubmit },
		h('label', { class: 'field' }, h('span', null, t('signin.username')), (username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }))),
		h('label', { class: 'field' }, h('span', null, t('signin.password')), (password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }))),
		// Shown once the server asks for the second step.
		h('div', { class: 'signin-code', hidden: true, 'data-signin-code': '' },
			h('label', { class: 'field' }, h('span', null, t('signin.code')),
				(code = h('input', { id: 'otp', name: 'otp', autocomplete: 'one-time-code', inputmode: 'numeric', autocapitalize: 'none', spellcheck: 'false', maxlength: 32, 'aria-describedby': 'otp-hint' }))),
			h('p', { id: 'otp-hint', class: 'small muted' }, t('signin.codeHint'))),
		msg,
		submit,
	);
	const codeBox = form.querySelector('[data-signin-code]');
	const idle = () => t(codeBox.hidden ? 'signin.submit' : 'signin.verify');
	// A changed username or password starts over at the first step.
	const restart = () => {
		if (codeBox.hidden) return;
		codeBox.hidden = true;
		code.value = '';
		submit.textContent = idle();
	};
	username.addEventListener('input', restart);
	password.addEventListener('input', restart);
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
		const otp = codeBox.hidden ? '' : code.value.trim();
		if (!codeBox.hidden && !otp) {
			msg.append(h('div', { class: 'alert alert-error', role: 'alert' }, t('signin.codeMissing')));
			code.focus();
			return;
		}
		submit.disabled = true;
		submit.textContent = t('signin.busy');
		try {
			// same-origin: the device cookie (HttpOnly: this script never sees it)
			// goes with the sign-in and a fresh one comes back.
			const d = await gql(LOGIN, { u: username.value.trim(), p: password.value, otp: otp || null }, { credentials: 'same-origin' });
			ctx.onSignedIn(d.adminLogin.token, d.adminLogin.admin, { mustEnrol: d.adminLogin.totpEnrolmentRequired });
		} catch (e) {
			submit.disabled = false;
			if (e.code === 'TOTP_REQUIRED' || e.code === 'TOTP_INVALID') {
				// The password was right: keep it, and ask for the code (again).
				codeBox.hidden = false;
				submit.textContent = idle();
				msg.append(e.code === 'TOTP_REQUIRED' ? h('div', { class: 'alert alert-info', role: 'status', 'data-code': e.code }, t('signin.codeAsked'))
					: h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, explain(e)));
				code.value = '';
				code.focus();
				return;
			}
			submit.textContent = idle();
			const mine = e.code === 'INVALID_CREDENTIALS' || e.code === 'RATE_LIMITED';
			msg.append(mine ? h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, explain(e)) : errorBox(e));
			password.value = '';
			restart();
			password.focus();
		}
	}
	return {};
}
