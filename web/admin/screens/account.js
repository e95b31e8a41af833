// My account, for every admin: who I am, and my password (changeMyPassword:
// the current one, then the new one twice). A password another admin set
// must be changed here before anything else (app.js sends the admin here).
// The change ends my other sessions; this one stays.
import { append, h, replace } from '../lib/dom.js';
import { gql, session } from '../lib/api.js';
import { errorBox, explain, field, raw, roleName, titled } from '../lib/ui.js';
import { t } from '../lib/i18n.js';

const CHANGE = `mutation ChangeMyPassword($c: String!, $n: String!) { changeMyPassword(current: $c, new: $n) { id username role mustChangePassword } }`;

export function mount(main, ctx) {
	titled(t('account.title'));
	const me = ctx.admin || {};
	const msg = h('div', { id: 'account-msg', 'aria-live': 'polite' });
	const input = (name, autocomplete) => h('input', { name, type: 'password', autocomplete, required: true, maxlength: 1024 });
	const current = input('current', 'current-password');
	const next = input('new', 'new-password');
	const again = input('again', 'new-password');
	const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('account.change'));
	const alert = (text, code) => h('div', { class: 'alert alert-error', role: 'alert', 'data-code': code }, text);

	async function onSubmit(ev) {
		ev.preventDefault();
		msg.replaceChildren();
		if (next.value !== again.value) {
			msg.append(alert(t('account.mismatch')));
			again.focus();
			return;
		}
		if ([...next.value].length < 12) {
			msg.append(alert(t('account.tooShort')));
			next.focus();
			return;
		}
		submit.disabled = true;
		try {
			const a = (await gql(CHANGE, { c: current.value, n: next.value })).changeMyPassword;
			session.set(session.token, a);
			form.reset();
			const done = t('account.changed');
			replace(msg, h('div', { class: 'alert alert-info', role: 'status' }, done));
			ctx.announce(done);
			if (me.mustChangePassword) ctx.navigate('/admin/', { replace: true });
		} catch (e) {
			// A wrong current password is the admin's own mistake, not the server's.
			msg.append(e.code === 'INVALID_CREDENTIALS' ? alert(t('account.wrongCurrent'), e.code) : e.code === 'RATE_LIMITED' ? alert(explain(e), e.code) : errorBox(e));
			current.value = '';
			current.focus();
		}
		submit.disabled = false;
	}

	const form = h('form', { id: 'password-form', class: 'panel', novalidate: true, onSubmit },
		h('h2', null, t('account.passwordTitle')),
		field(t('account.current'), current), field(t('account.new'), next), field(t('account.again'), again),
		h('p', { class: 'muted small' }, t('account.note')),
		msg, submit);
	append(main,
		h('h1', { tabindex: '-1' }, t('account.title')),
		me.mustChangePassword && h('div', { class: 'alert alert-warn', role: 'alert', 'data-must-change': '' }, t('account.mustChange')),
		h('p', null, raw(me.username, 'strong'), ' · ', roleName(me.role)),
		// Two-step sign-in lives under My account: the header stays one row on a phone.
		h('p', null, h('a', { href: '/admin/account/2fa', 'data-nav-twostep': '' }, t('nav.twoStep'))),
		form);
	(me.mustChangePassword ? current : main.querySelector('h1')).focus();
	return {};
}
