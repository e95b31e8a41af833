// Needs review: users whose nickname or avatar WeChat's content check sent
// for review (UserFilter.needsReview). Every admin sees the list; only an
// ADMIN gets the approve and reject buttons (moderateUser is ADMIN only, so
// a VIEWER's button would only ever fail).
import { h, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { avatar, badge, confirmDialog, empty, errorBox, loading, nickname, titled } from '../lib/ui.js';
import { forgetCounts } from './users.js';
import { R } from '../lib/text.js';

// One page of the oldest 50: a queue is worked from its head.
const LIST = `query Review { users(first: 50, filter: {needsReview: true}, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount
	edges { node { id nickname avatarUrl moderation { nickname nicknameLabel avatar avatarLabel needsReview } } } } }`;
const MODERATE = `mutation Moderate($id: ID!, $ok: Boolean!) { moderateUser(id: $id, approve: $ok) { id } }`;

/** A state badge with WeChat's label, e.g. "In review · other"; null for no content. */
export function stateBadge(state, label) {
	if (!state) return null;
	const l = label != null && R.label[label];
	return badge(R.state[state] + (l && state !== 'APPROVED' ? ' · ' + l : ''), R.kind[state]);
}

export function mount(main, ctx) {
	titled(R.title);
	const canChange = ctx.admin && ctx.admin.role === 'ADMIN';
	let ctrl;

	async function load(message) {
		ctrl?.abort();
		ctrl = new AbortController();
		main.setAttribute('aria-busy', 'true');
		if (!main.firstChild) main.append(loading());
		try {
			const d = await gql(LIST, {}, { signal: ctrl.signal });
			render(d.users, message);
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(main, h('h1', { tabindex: '-1' }, R.title), errorBox(e, () => load()));
		}
		main.removeAttribute('aria-busy');
	}

	function render(users, message) {
		const rows = users.edges.map(({ node: u }) => {
			const m = u.moderation;
			const name = u.nickname || u.id;
			return h('tr', { 'data-user-id': u.id },
				h('td', { 'data-label': R.avatar }, avatar(u.avatarUrl, u.nickname, 'lg'), ' ', stateBadge(m.avatar, m.avatarLabel)),
				h('td', { 'data-label': R.nickname }, h('a', { href: '/admin/users/' + encodeURIComponent(u.id) }, nickname(u)), ' ', stateBadge(m.nickname, m.nicknameLabel)),
				canChange && h('td', { class: 'cell-actions' },
					h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'approve', 'aria-label': `${R.approve}: ${name}`,
						onClick: (e) => {
							const btn = e.currentTarget;
							btn.disabled = true;
							decide(u.id, true, R.approved).catch((err) => { btn.disabled = false; fail(err); });
						} }, R.approve), ' ',
					h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'reject', 'aria-label': `${R.reject} ${name}`,
						onClick: () => confirmDialog({ title: R.rejectTitle(name), text: R.rejectText, confirmLabel: R.rejectConfirm, danger: true,
							onConfirm: () => decide(u.id, false, R.rejected) }) }, R.reject)));
		});
		replace(main,
			h('h1', { tabindex: '-1' }, R.title),
			h('p', { class: 'muted' }, R.intro, canChange ? '' : ' ' + R.viewerNote),
			h('div', { id: 'review-msg', 'aria-live': 'polite' }, message && h('div', { class: 'alert alert-info', role: 'status' }, message)),
			rows.length
				? [h('p', { id: 'review-count' }, R.count(users.totalCount)),
					h('div', { class: 'table-wrap' }, h('table', { class: 'table cards', id: 'review-table' },
						h('thead', null, h('tr', null, h('th', { scope: 'col' }, R.avatar), h('th', { scope: 'col' }, R.nickname), canChange && h('th', { scope: 'col' }, R.actions))),
						h('tbody', null, rows)))]
				: empty(R.none));
	}

	const fail = (err) => replace(main.querySelector('#review-msg'), errorBox(err));

	async function decide(id, ok, done) {
		await gql(MODERATE, { id, ok });
		forgetCounts();
		ctx.announce(done);
		await load(done);
		main.querySelector('h1')?.focus();
	}

	load();
	return { unmount: () => ctrl?.abort() };
}
