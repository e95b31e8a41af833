// Needs review: users whose nickname or avatar WeChat's content check sent
// for review (UserFilter.needsReview). Every admin sees the list; only an
// ADMIN gets the approve and reject buttons (moderateUser is ADMIN only, so
// a VIEWER's button would only ever fail).
import { h, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { avatar, badge, confirmDialog, empty, errorBox, loading, nickname, titled } from '../lib/ui.js';
import { forgetCounts } from './users.js';
import { t, tn } from '../lib/i18n.js';

const STATE_KIND = { UNCHECKED: '', PENDING: 'warn', APPROVED: 'ok', REVIEW: 'warn' };
const stateName = (st) => ({ UNCHECKED: t('review.stateUnchecked'), PENDING: t('review.statePending'), APPROVED: t('review.stateApproved'), REVIEW: t('review.stateReview') })[st] || st;
// WeChat's labels (msgSecCheck / mediaCheckAsync v2).
const label = (l) => ({ 100: t('review.label100'), 10001: t('review.label10001'), 20001: t('review.label20001'), 20002: t('review.label20002'), 20003: t('review.label20003'), 20006: t('review.label20006'),
	20008: t('review.label20008'), 20012: t('review.label20012'), 20013: t('review.label20013'), 21000: t('review.label21000') })[l];

// One page of the oldest 50: a queue is worked from its head.
const LIST = `query Review { users(first: 50, filter: {needsReview: true}, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount
	edges { node { id nickname avatarUrl moderation { nickname nicknameLabel avatar avatarLabel needsReview } } } } }`;
const MODERATE = `mutation Moderate($id: ID!, $ok: Boolean!) { moderateUser(id: $id, approve: $ok) { id } }`;

/** A state badge with WeChat's label, e.g. "In review · other"; null for no content. */
export function stateBadge(st, code) {
	if (!st) return null;
	const l = code != null && label(code);
	return badge(stateName(st) + (l && st !== 'APPROVED' ? ' · ' + l : ''), STATE_KIND[st]);
}

export function mount(main, ctx) {
	titled(t('review.title'));
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
			replace(main, h('h1', { tabindex: '-1' }, t('review.title')), errorBox(e, () => load()));
		}
		main.removeAttribute('aria-busy');
	}

	function render(users, message) {
		const rows = users.edges.map(({ node: u }) => {
			const m = u.moderation;
			const name = u.nickname || u.id;
			return h('tr', { 'data-user-id': u.id },
				h('td', { 'data-label': t('common.avatar') }, avatar(u.avatarUrl, u.nickname, 'lg'), ' ', stateBadge(m.avatar, m.avatarLabel)),
				h('td', { 'data-label': t('users.nickname') }, h('a', { href: '/admin/users/' + encodeURIComponent(u.id) }, nickname(u)), ' ', stateBadge(m.nickname, m.nicknameLabel)),
				canChange && h('td', { class: 'cell-actions' },
					h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'approve', 'aria-label': t('review.approveLabel', { name }),
						onClick: (e) => {
							const btn = e.currentTarget;
							btn.disabled = true;
							decide(u.id, true, t('review.approved')).catch((err) => { btn.disabled = false; fail(err); });
						} }, t('review.approve')), ' ',
					h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-action': 'reject', 'aria-label': t('review.rejectLabel', { name }),
						onClick: () => confirmDialog({ title: t('review.rejectTitle', { name }), text: t('review.rejectText'), confirmLabel: t('review.rejectConfirm'), danger: true,
							onConfirm: () => decide(u.id, false, t('review.rejected')) }) }, t('review.reject'))));
		});
		replace(main,
			h('h1', { tabindex: '-1' }, t('review.title')),
			h('p', { class: 'muted' }, t('review.intro'), canChange ? '' : ' ' + t('review.viewerNote')),
			h('div', { id: 'review-msg', 'aria-live': 'polite' }, message && h('div', { class: 'alert alert-info', role: 'status' }, message)),
			rows.length
				? [h('p', { id: 'review-count' }, tn('review.count', users.totalCount)),
					h('div', { class: 'table-wrap' }, h('table', { class: 'table cards', id: 'review-table' },
						h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('common.avatar')), h('th', { scope: 'col' }, t('users.nickname')), canChange && h('th', { scope: 'col' }, t('review.actions')))),
						h('tbody', null, rows)))]
				: empty(t('review.none')));
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
