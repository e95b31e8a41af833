// Two-step sign-in (TOTP) for the signed-in admin, at /admin/account/2fa:
// set it up (QR code or the key by hand, then a code from the app), see
// the recovery codes once (copy, download), or turn it off with a code.
// Under ADMIN_REQUIRE_TOTP an admin without it is sent here and can do
// nothing else until it is on.
import { h, replace } from '../lib/dom.js';
import { gql, session } from '../lib/api.js';
import { badge, errorBox, explain, field, loading, raw, titled } from '../lib/ui.js';
import { t } from '../lib/i18n.js';

const ME = `query TwoStep { admin { id username role totpEnabled } }`;
const START = `mutation StartTotp { startTotpEnrolment { secret qrCode } }`;
const CONFIRM = `mutation ConfirmTotp($c: String!) { confirmTotpEnrolment(code: $c) { codes admin { id username role totpEnabled } } }`;
const DISABLE = `mutation DisableTotp($c: String!) { disableTotp(code: $c) { id username role totpEnabled } }`;

/** The secret in groups of four, as authenticator apps show keys. */
const grouped = (secret) => secret.replace(/(.{4})(?=.)/g, '$1 ');

export function mount(main, ctx) {
	titled(t('twostep.title'));
	const required = ctx.query.get('required') === '1';
	let ctrl;

	const head = (...rest) => [h('h1', { tabindex: '-1' }, t('twostep.title')), required && h('div', { class: 'alert alert-warn', role: 'alert', 'data-twostep-required': '' }, t('twostep.required')), ...rest];

	async function load() {
		ctrl?.abort();
		ctrl = new AbortController();
		replace(main, ...head(loading()));
		try {
			const d = await gql(ME, {}, { signal: ctrl.signal });
			if (!d.admin) return;
			session.set(session.token, { id: d.admin.id, username: d.admin.username, role: d.admin.role });
			(d.admin.totpEnabled ? showOn : showOff)();
		} catch (e) {
			if (e.name !== 'AbortError') replace(main, ...head(errorBox(e, load)));
		}
	}

	// A form with one code field; submit(code) runs with the button busy, an
	// error shown under the field.
	function codeForm({ label, hint, button, danger, numeric, submit }) {
		const msg = h('div', { 'aria-live': 'polite' });
		const input = h('input', { id: 'twostep-code', name: 'code', required: true, autocomplete: 'one-time-code', autocapitalize: 'none', spellcheck: 'false', maxlength: 32,
			inputmode: numeric ? 'numeric' : null, 'aria-describedby': hint ? 'twostep-code-hint' : null });
		const btn = h('button', { type: 'submit', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], 'data-twostep-submit': '' }, button);
		const form = h('form', { class: 'twostep-form', novalidate: true, onSubmit: async (ev) => {
			ev.preventDefault();
			msg.replaceChildren();
			const code = input.value.trim();
			if (!code) {
				msg.append(h('div', { class: 'alert alert-error', role: 'alert' }, t('twostep.codeMissing')));
				input.focus();
				return;
			}
			btn.disabled = true;
			btn.textContent = t('twostep.busy');
			try {
				await submit(code);
			} catch (e) {
				btn.disabled = false;
				btn.textContent = button;
				const mine = e.code === 'TOTP_INVALID' || e.code === 'RATE_LIMITED';
				msg.append(mine ? h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, explain(e))
					: e.code === 'FORBIDDEN' ? h('div', { class: 'alert alert-error', role: 'alert', 'data-code': e.code }, t('twostep.cannotTurnOff')) : errorBox(e));
				input.value = '';
				input.focus();
			}
		} },
			field(label, input),
			hint && h('p', { id: 'twostep-code-hint', class: 'small muted' }, hint),
			msg,
			btn);
		return { form, input };
	}

	function showOff() {
		const start = h('button', { type: 'button', class: 'btn btn-primary', 'data-twostep-start': '', onClick: begin }, t('twostep.start'));
		replace(main, ...head(
			h('section', { class: 'panel twostep' },
				h('p', null, t('twostep.status'), ' ', badge(t('twostep.statusOff'), 'warn')),
				h('p', null, t('twostep.intro')),
				start)));

		async function begin() {
			start.disabled = true;
			try {
				const d = await gql(START);
				showEnrol(d.startTotpEnrolment);
			} catch (e) {
				start.disabled = false;
				start.after(errorBox(e));
			}
		}
	}

	function showEnrol(e) {
		const { form, input } = codeForm({ label: t('twostep.code'), button: t('twostep.confirm'), numeric: true, submit: async (code) => {
			const d = await gql(CONFIRM, { c: code });
			const a = d.confirmTotpEnrolment.admin;
			session.set(session.token, { id: a.id, username: a.username, role: a.role });
			showCodes(d.confirmTotpEnrolment.codes);
		} });
		replace(main, ...head(
			h('section', { class: 'panel twostep' },
				h('h2', null, t('twostep.setupTitle')),
				h('p', null, t('twostep.scan')),
				h('img', { class: 'twostep-qr', src: e.qrCode, width: 256, height: 256, alt: t('twostep.qrAlt') }),
				h('p', null, t('twostep.manual')),
				h('p', null, raw(grouped(e.secret), 'code', { class: 'twostep-secret', 'data-twostep-secret': e.secret })),
				h('p', null, t('twostep.enter')),
				form)));
		input.focus();
	}

	function showCodes(codes) {
		const text = codes.join('\n') + '\n';
		const status = h('span', { class: 'small muted', role: 'status' });
		const copy = h('button', { type: 'button', class: 'btn', onClick: async () => {
			try {
				await navigator.clipboard.writeText(text);
				status.textContent = t('twostep.copied');
			} catch {
				status.textContent = t('twostep.copyFailed');
			}
		} }, t('twostep.copy'));
		const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
		const name = 'wxlogin-recovery-codes-' + (session.admin?.username || 'admin') + '.txt';
		replace(main, ...[h('h1', { tabindex: '-1' }, t('twostep.title')),
			h('section', { class: 'panel twostep' },
				h('div', { class: 'alert alert-info', role: 'status', 'data-twostep-on': '' }, t('twostep.enabled')),
				h('h2', null, t('twostep.codesTitle')),
				h('div', { class: 'alert alert-warn', role: 'alert' }, t('twostep.codesWarn')),
				h('ol', { class: 'twostep-codes', 'data-recovery-codes': '' }, codes.map((c) => h('li', null, raw(c, 'code')))),
				h('p', { class: 'twostep-actions' },
					copy,
					h('a', { class: 'btn', href: url, download: name }, t('twostep.download')),
					status),
				h('a', { class: 'btn btn-primary', href: '/admin/', 'data-twostep-done': '', onClick: () => URL.revokeObjectURL(url) }, t('twostep.saved'))),
		]);
		main.querySelector('h1').focus();
	}

	function showOn() {
		const { form } = codeForm({ label: t('twostep.offCode'), hint: t('twostep.offHint'), button: t('twostep.turnOff'), danger: true, submit: async (code) => {
			await gql(DISABLE, { c: code });
			ctx.announce(t('twostep.disabled'));
			await load();
		} });
		replace(main, ...head(
			h('section', { class: 'panel twostep' },
				h('p', null, t('twostep.status'), ' ', badge(t('twostep.statusOn'), 'ok')),
				h('p', null, t('twostep.onIntro'))),
			h('section', { class: 'panel twostep' },
				h('h2', null, t('twostep.offTitle')),
				form)));
	}

	load();
	return { unmount: () => ctrl?.abort() };
}
