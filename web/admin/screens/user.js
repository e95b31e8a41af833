// One user: profile, identities, live sessions, recent audit entries; an
// ADMIN may disable or enable them, revoke sessions and erase them (with a
// reason, at once); any admin may download everything stored about them
// (userData, audited). An erased user is a tombstone: id and dates only.
import { h, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { avatar, badge, confirmDialog, dash, empty, errorBox, loading, nickname, raw, statusBadge, titled, when } from '../lib/ui.js';
import { forgetCounts } from './users.js';
import { t, tp, dateTime } from '../lib/i18n.js';
import { stateBadge } from './review.js';
import { actionName, actorKind } from './audit.js';

const USER = `query User($id: ID!, $target: String) {
	user(id: $id) { id nickname avatarUrl gender city province country language phone createdAt lastLoginAt
		disabled disabledAt disabledReason disabledBy { username } deletionRequestedAt erasesAt deletedAt
		moderation { nickname nicknameLabel avatar avatarLabel }
		identities { appId openId unionId createdAt lastLoginAt }
		sessions { id createdAt lastSeenAt expiresAt ip userAgent } }
	auditLog(first: 8, filter: {target: $target}) { edges { node { id at action actor { kind id name } } } } }`;
const DISABLE = `mutation Disable($id: ID!, $reason: String!) { disableUser(id: $id, reason: $reason) { id } }`;
const ENABLE = `mutation Enable($id: ID!) { enableUser(id: $id) { id } }`;
const REVOKE = `mutation Revoke($id: ID!) { revokeSession(id: $id) }`;
const REVOKE_ALL = `mutation RevokeAll($id: ID!) { revokeUserSessions(userId: $id) }`;
const DELETE = `mutation DeleteUser($id: ID!, $reason: String!) { deleteUser(id: $id, reason: $reason) { id deletedAt } }`;
const USER_DATA = `query UserData($id: ID!) { userData(id: $id) }`;
const gender = (g) => ({ MALE: t('user.genderMale'), FEMALE: t('user.genderFemale'), UNKNOWN: t('user.genderUnknown') })[g] || g;

// Data as stored (a city, an IP, a user agent), or a dash.
const or = (v) => (v ? raw(v) : dash());

export function mount(main, ctx) {
	const id = ctx.params[0];
	const canChange = ctx.admin && ctx.admin.role === 'ADMIN';
	let ctrl;
	titled(t('user.title'));

	async function load(message) {
		ctrl?.abort();
		ctrl = new AbortController();
		main.setAttribute('aria-busy', 'true');
		if (!main.firstChild) main.append(loading(t('user.loading')));
		try {
			const d = await gql(USER, { id, target: id }, { signal: ctrl.signal });
			if (!d.user) {
				replace(main, crumbs(t('user.notFound')), h('h1', { tabindex: '-1' }, t('user.noSuchUser')), empty(t('user.noSuchUserText'), h('a', { class: 'btn', href: '/admin/users' }, t('user.backToUsers'))));
			} else {
				render(d.user, d.auditLog.edges, message);
			}
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(main, crumbs(t('user.error')), h('h1', { tabindex: '-1' }, t('user.title')), errorBox(e, () => load()));
		}
		main.removeAttribute('aria-busy');
		// The link that led here is gone: focus the heading.
		if (ctx.focus && document.activeElement === document.body) main.querySelector('h1')?.focus();
	}

	const crumbs = (label) => h('nav', { class: 'crumbs', 'aria-label': t('user.breadcrumb') }, h('a', { href: '/admin/users' }, t('users.title')), ' › ', label);

	function render(u, audit, message) {
		if (u.deletedAt) return tombstone(u, message);
		titled(u.nickname || t('user.title'));
		// A sentence naming the user: by nickname, else "this user", capitalized when it starts the sentence.
		const say = (key, params) => {
			const text = t(key, { name: u.nickname || t('user.thisUser'), ...params });
			return u.nickname ? text : text[0].toUpperCase() + text.slice(1);
		};
		const actions = [h('button', { type: 'button', class: 'btn', 'data-action': 'download', onClick: (e) => download(e.currentTarget, say).catch(fail) }, t('user.download'))];
		if (canChange) {
			if (u.disabled) {
				actions.push(h('button', { type: 'button', class: 'btn', 'data-action': 'enable', onClick: () => act(ENABLE, say('user.enabled')).catch(fail) }, t('user.enable')));
			} else {
				actions.push(h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'disable', onClick: () => confirmDialog({
					title: say('user.disableTitle'),
					text: t('user.disableText'),
					reasonLabel: t('user.reason'), reasonRequired: true, confirmLabel: t('user.disableConfirm'), danger: true,
					onConfirm: (reason) => act(DISABLE, say('user.disabled'), { reason }),
				}) }, t('user.disable')));
			}
			actions.push(h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'delete', onClick: () => confirmDialog({
				title: say('deletion.title'), text: t('deletion.warning'), warn: true,
				reasonLabel: t('deletion.reasonLabel'), reasonRequired: true, confirmLabel: t('deletion.confirm'), danger: true,
				onConfirm: (reason) => act(DELETE, t('deletion.done'), { reason }),
			}) }, t('deletion.button')));
		}
		const pending = !!u.erasesAt; // a deletion in its cooling-off period
		const sessions = u.sessions.length
			? h('div', { class: 'table-wrap' }, h('table', { class: 'table cards' },
					h('thead', null, h('tr', null, [t('user.sessionCreated'), t('user.lastSeen'), t('user.expires'), t('user.ip'), t('user.userAgent')].map((c) => h('th', { scope: 'col' }, c)), canChange && h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('user.actions'))))),
					h('tbody', null, u.sessions.map((s) =>
						h('tr', { 'data-session-id': s.id },
							[[t('user.sessionCreated'), when(s.createdAt)], [t('user.lastSeen'), when(s.lastSeenAt)], [t('user.expires'), when(s.expiresAt)], [t('user.ip'), or(s.ip)]].map(([k, v]) => h('td', { 'data-label': k }, v)),
							h('td', { 'data-label': t('user.userAgent'), class: 'cell-ua' }, or(s.userAgent)),
							canChange && h('td', { class: 'cell-actions' }, h('button', {
								type: 'button', class: 'btn btn-small', 'data-action': 'revoke',
								'aria-label': t('user.revokeLabel', { created: dateTime(s.createdAt) }),
								onClick: (e) => {
									const btn = e.currentTarget;
									btn.disabled = true;
									act(REVOKE, t('user.revoked'), { id: s.id }).catch((err) => { btn.disabled = false; fail(err); });
								},
							}, t('user.revoke'))),
						)))))
			: empty(u.disabled ? t('user.noSessionsDisabled') : t('user.noSessions'));
		replace(
			main,
			crumbs(raw(u.nickname || u.id)),
			h('div', { class: 'user-head' },
				avatar(u.avatarUrl, u.nickname, 'lg'),
				h('div', { class: 'titles' }, h('h1', { tabindex: '-1' }, h('span', { id: 'user-name' }, nickname(u)), statusBadge(u.disabled), pending && badge(t('deletion.pending'), 'warn')), raw(u.id, 'code', { class: 'muted' })),
				h('div', { class: 'actions' }, actions)),
			msgBox(message),
			pending && h('div', { class: 'alert alert-warn', id: 'deletion-pending' }, tp('deletion.pendingNote', { asked: when(u.deletionRequestedAt), erases: when(u.erasesAt) })),
			h('div', { class: 'grid-2' },
				h('section', { class: 'panel', id: 'profile', 'aria-labelledby': 'h-profile' }, h('h2', { id: 'h-profile' }, t('user.profile')),
					h('dl', { class: 'props' },
						prop(t('review.content'), contentState(u.moderation)),
						prop(t('users.phone'), or(u.phone)),
						prop(t('user.gender'), u.gender ? gender(u.gender) : dash()),
						prop(t('user.location'), or([u.city, u.province, u.country].filter(Boolean).join(', '))),
						prop(t('user.language'), or(u.language)),
						prop(t('users.created'), when(u.createdAt)),
						prop(t('users.lastLogin'), when(u.lastLoginAt, t('common.never'))),
						u.disabled && prop(t('user.disabledAt'), when(u.disabledAt)),
						u.disabled && prop(t('user.disabledBy'), u.disabledBy ? raw(u.disabledBy.username, 'span', { id: 'disabled-by' }) : dash()),
						u.disabled && prop(t('user.reason'), u.disabledReason ? raw(u.disabledReason, 'span', { id: 'disabled-reason', class: 'prewrap' }) : dash()),
						pending && prop(t('deletion.requestedAt'), when(u.deletionRequestedAt)),
						pending && prop(t('deletion.erasesAt'), when(u.erasesAt)))),
				h('section', { class: 'panel', 'aria-labelledby': 'h-ids' }, h('h2', { id: 'h-ids' }, t('user.identities')),
					u.identities.length ? u.identities.map((i) => h('dl', { class: 'props identity' },
						prop('AppID', raw(i.appId, 'code')),
						prop('OpenID', raw(i.openId, 'code')),
						prop('UnionID', i.unionId ? raw(i.unionId, 'code') : dash()),
						prop(t('user.since'), when(i.createdAt)),
						prop(t('users.lastLogin'), when(i.lastLoginAt)))) : empty(t('user.noIdentities')))),
			h('section', { class: 'panel', id: 'sessions', 'aria-labelledby': 'h-sessions' },
				h('div', { class: 'panel-head' }, h('h2', { id: 'h-sessions' }, t('user.sessions', { n: u.sessions.length })),
					canChange && u.sessions.length > 1 && h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'revoke-all', onClick: () =>
						confirmDialog({ title: t('user.revokeAllTitle'), text: say('user.revokeAllText'), confirmLabel: t('user.revokeAll'), danger: true,
							onConfirm: () => act(REVOKE_ALL, t('user.revokedAll')) }) }, t('user.revokeAll'))),
				sessions),
			h('section', { class: 'panel', 'aria-labelledby': 'h-audit' },
				h('div', { class: 'panel-head' }, h('h2', { id: 'h-audit' }, t('user.activity')),
					h('a', { href: '/admin/audit?user=' + encodeURIComponent(u.id), 'data-audit-link': '' }, t('user.fullAudit'))),
				audit.length ? h('ul', { class: 'activity' }, audit.map(({ node: a }) =>
					h('li', { 'data-audit-action': a.action }, when(a.at), ' ', badge(actionName(a.action), 'kind'), ' ',
						tp('user.by', { who: a.actor.id === u.id ? t('user.byTheUser') : a.actor.name || a.actor.id ? raw(a.actor.name || a.actor.id) : actorKind(a.actor.kind) })))) : empty(t('user.noActivity'))),
		);
	}

	// What is left of an erased user: no personal data, so nothing to act on.
	function tombstone(u, message) {
		titled(t('deletion.erasedUser'));
		replace(
			main,
			crumbs(t('deletion.erasedUser')),
			h('div', { class: 'user-head' },
				h('div', { class: 'titles' }, h('h1', { tabindex: '-1' }, h('span', { id: 'user-name' }, t('deletion.erasedUser')), badge(t('deletion.erased'))), raw(u.id, 'code', { class: 'muted' }))),
			msgBox(message),
			h('section', { class: 'panel', id: 'tombstone' },
				h('p', { class: 'muted' }, t('deletion.tombstoneNote')),
				h('dl', { class: 'props' },
					prop(t('deletion.userId'), raw(u.id, 'code')),
					prop(t('users.created'), when(u.createdAt)),
					prop(t('deletion.erasedAt'), when(u.deletedAt))),
				h('a', { href: '/admin/audit?user=' + encodeURIComponent(u.id), 'data-audit-link': '' }, t('user.fullAudit'))),
		);
	}

	const msgBox = (message) => h('div', { id: 'user-msg', 'aria-live': 'polite' }, message && h('div', { class: 'alert alert-info', role: 'status' }, message));
	const fail = (err) => replace(main.querySelector('#user-msg'), errorBox(err));
	// Each piece of content with its state; a PENDING avatar is shown as pending.
	const contentState = (m) => {
		const parts = [['nickname', t('users.nickname'), m.nickname, m.nicknameLabel], ['avatar', t('common.avatar'), m.avatar, m.avatarLabel]].filter((p) => p[2]);
		return parts.length ? h('span', { id: 'moderation' }, parts.map(([k, label, st, l]) => h('span', { 'data-content': k }, label, ' ', stateBadge(st, l), ' '))) : dash();
	};
	const prop = (k, v) => [h('dt', null, k), h('dd', null, v)];

	// Runs a change, then shows the user as the server now has them.
	async function act(mutation, done, vars = {}) {
		await gql(mutation, { id, ...vars });
		forgetCounts();
		ctx.announce(done);
		await load(done);
		main.querySelector('h1')?.focus();
	}

	// Saves the userData document as a file; the export is audited, so the
	// page reloads to show it in the recent activity.
	async function download(btn, say) {
		btn.disabled = true;
		try {
			const d = await gql(USER_DATA, { id });
			const url = URL.createObjectURL(new Blob([d.userData], { type: 'application/json' }));
			const a = h('a', { href: url, download: `user-${id}.json`, hidden: true });
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 60_000);
			const done = say('user.downloaded', { kb: Math.ceil(d.userData.length / 1024) });
			ctx.announce(done);
			await load(done);
		} finally {
			btn.disabled = false;
		}
	}

	load();
	return { unmount: () => ctrl?.abort() };
}
