// One user: profile, identities, live sessions, recent audit entries; an
// ADMIN may disable or enable them, revoke sessions and erase them (with a
// reason, at once); any admin may download everything stored about them
// (userData, audited). An erased user is a tombstone: id and dates only.
import { h, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { avatar, badge, confirmDialog, dash, empty, errorBox, loading, nickname, statusBadge, titled, when } from '../lib/ui.js';
import { forgetCounts } from './users.js';
import { T, R } from '../lib/text.js';
import { stateBadge } from './review.js';

const USER = `query User($id: ID!, $target: String) {
	user(id: $id) { id nickname avatarUrl gender city province country language phone createdAt lastLoginAt
		disabled disabledAt disabledReason deletionRequestedAt erasesAt deletedAt
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
const GENDER = { MALE: 'Male', FEMALE: 'Female', UNKNOWN: 'Not given' };

const or = (v) => (v ? v : dash());

export function mount(main, ctx) {
	const id = ctx.params[0];
	const canChange = ctx.admin && ctx.admin.role === 'ADMIN';
	let ctrl;
	titled('User');

	async function load(message) {
		ctrl?.abort();
		ctrl = new AbortController();
		main.setAttribute('aria-busy', 'true');
		if (!main.firstChild) main.append(loading('Loading user…'));
		try {
			const d = await gql(USER, { id, target: id }, { signal: ctrl.signal });
			if (!d.user) {
				replace(main, crumbs('Not found'), h('h1', { tabindex: '-1' }, 'No such user'), empty('There is no user with this id.', h('a', { class: 'btn', href: '/admin/users' }, 'Back to users')));
			} else {
				render(d.user, d.auditLog.edges, message);
			}
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(main, crumbs('Error'), h('h1', { tabindex: '-1' }, 'User'), errorBox(e, () => load()));
		}
		main.removeAttribute('aria-busy');
		// The link that led here is gone: focus the heading.
		if (ctx.focus && document.activeElement === document.body) main.querySelector('h1')?.focus();
	}

	const crumbs = (label) => h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/admin/users' }, 'Users'), ' › ', label);

	function render(u, audit, message) {
		if (u.deletedAt) return tombstone(u, message);
		titled(u.nickname || 'User');
		const name = u.nickname || 'this user';
		const Name = u.nickname || 'This user';
		const actions = [h('button', { type: 'button', class: 'btn', 'data-action': 'download', onClick: (e) => download(e.currentTarget, Name).catch(fail) }, 'Download data')];
		if (canChange) {
			if (u.disabled) {
				actions.push(h('button', { type: 'button', class: 'btn', 'data-action': 'enable', onClick: () => act(ENABLE, `${Name} may log in again.`).catch(fail) }, 'Enable'));
			} else {
				actions.push(h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'disable', onClick: () => confirmDialog({
					title: `Disable ${name}?`,
					text: 'They are signed out everywhere at once and cannot log in until an admin enables them. The reason is kept in the audit log.',
					reasonLabel: 'Reason', reasonRequired: true, confirmLabel: 'Disable user', danger: true,
					onConfirm: (reason) => act(DISABLE, `${Name} is disabled and signed out everywhere.`, { reason }),
				}) }, 'Disable…'));
			}
			actions.push(h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'delete', onClick: () => confirmDialog({
				title: T.deleteTitle(name), text: T.deleteWarning, warn: true,
				reasonLabel: T.reasonLabel, reasonRequired: true, confirmLabel: T.deleteConfirm, danger: true,
				onConfirm: (reason) => act(DELETE, T.deleted, { reason }),
			}) }, T.deleteButton));
		}
		const pending = !!u.erasesAt; // a deletion in its cooling-off period
		const sessions = u.sessions.length
			? h('div', { class: 'table-wrap' }, h('table', { class: 'table cards' },
					h('thead', null, h('tr', null, ['Created', 'Last seen', 'Expires', 'IP', 'User agent'].map((c) => h('th', { scope: 'col' }, c)), canChange && h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
					h('tbody', null, u.sessions.map((s) =>
						h('tr', { 'data-session-id': s.id },
							[['Created', when(s.createdAt)], ['Last seen', when(s.lastSeenAt)], ['Expires', when(s.expiresAt)], ['IP', or(s.ip)]].map(([k, v]) => h('td', { 'data-label': k }, v)),
							h('td', { 'data-label': 'User agent', class: 'cell-ua' }, or(s.userAgent)),
							canChange && h('td', { class: 'cell-actions' }, h('button', {
								type: 'button', class: 'btn btn-small', 'data-action': 'revoke',
								'aria-label': `Revoke the session created ${new Date(s.createdAt).toLocaleString()}`,
								onClick: (e) => {
									const btn = e.currentTarget;
									btn.disabled = true;
									act(REVOKE, 'Session revoked.', { id: s.id }).catch((err) => { btn.disabled = false; fail(err); });
								},
							}, 'Revoke')),
						)))))
			: empty(u.disabled ? 'No live sessions: disabling ended them all.' : 'No live sessions.');
		replace(
			main,
			crumbs(u.nickname || u.id),
			h('div', { class: 'user-head' },
				avatar(u.avatarUrl, u.nickname, 'lg'),
				h('div', { class: 'titles' }, h('h1', { tabindex: '-1' }, h('span', { id: 'user-name' }, nickname(u)), statusBadge(u.disabled), pending && badge(T.pending, 'warn')), h('code', { class: 'muted' }, u.id)),
				h('div', { class: 'actions' }, actions)),
			msgBox(message),
			pending && h('div', { class: 'alert alert-warn', id: 'deletion-pending' }, T.pendingNote(when(u.deletionRequestedAt), when(u.erasesAt))),
			h('div', { class: 'grid-2' },
				h('section', { class: 'panel', id: 'profile', 'aria-labelledby': 'h-profile' }, h('h2', { id: 'h-profile' }, 'Profile'),
					h('dl', { class: 'props' },
						prop(R.content, contentState(u.moderation)),
						prop('Phone', or(u.phone)),
						prop('Gender', u.gender ? GENDER[u.gender] || u.gender : dash()),
						prop('Location', or([u.city, u.province, u.country].filter(Boolean).join(', '))),
						prop('Language', or(u.language)),
						prop('Created', when(u.createdAt)),
						prop('Last login', when(u.lastLoginAt, 'never')),
						u.disabled && prop('Disabled', when(u.disabledAt)),
						u.disabled && prop('Reason', or(u.disabledReason)),
						pending && prop(T.requestedAt, when(u.deletionRequestedAt)),
						pending && prop(T.erasesAt, when(u.erasesAt)))),
				h('section', { class: 'panel', 'aria-labelledby': 'h-ids' }, h('h2', { id: 'h-ids' }, 'Identities'),
					u.identities.length ? u.identities.map((i) => h('dl', { class: 'props identity' },
						prop('App ID', h('code', null, i.appId)),
						prop('OpenID', h('code', null, i.openId)),
						prop('UnionID', i.unionId ? h('code', null, i.unionId) : dash()),
						prop('Since', when(i.createdAt)),
						prop('Last login', when(i.lastLoginAt)))) : empty('No identities.'))),
			h('section', { class: 'panel', id: 'sessions', 'aria-labelledby': 'h-sessions' },
				h('div', { class: 'panel-head' }, h('h2', { id: 'h-sessions' }, `Live sessions (${u.sessions.length})`),
					canChange && u.sessions.length > 1 && h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'revoke-all', onClick: () =>
						confirmDialog({ title: 'Revoke every session?', text: `${Name} is signed out on every device, and may log in again.`, confirmLabel: 'Revoke all', danger: true,
							onConfirm: () => act(REVOKE_ALL, 'Every session revoked.') }) }, 'Revoke all')),
				sessions),
			h('section', { class: 'panel', 'aria-labelledby': 'h-audit' },
				h('div', { class: 'panel-head' }, h('h2', { id: 'h-audit' }, 'Recent activity'),
					h('a', { href: '/admin/audit?target=' + encodeURIComponent(u.id), 'data-audit-link': '' }, 'Full audit log for this user')),
				audit.length ? h('ul', { class: 'activity' }, audit.map(({ node: a }) =>
					h('li', null, when(a.at), ' ', badge(a.action, 'kind'), ' by ', a.actor.id === u.id ? 'the user' : a.actor.name || a.actor.id || a.actor.kind))) : empty('Nothing recorded yet.')),
		);
	}

	// What is left of an erased user: no personal data, so nothing to act on.
	function tombstone(u, message) {
		titled(T.erasedUser);
		replace(
			main,
			crumbs(T.erasedUser),
			h('div', { class: 'user-head' },
				h('div', { class: 'titles' }, h('h1', { tabindex: '-1' }, h('span', { id: 'user-name' }, T.erasedUser), badge(T.erased)), h('code', { class: 'muted' }, u.id))),
			msgBox(message),
			h('section', { class: 'panel', id: 'tombstone' },
				h('p', { class: 'muted' }, T.tombstoneNote),
				h('dl', { class: 'props' },
					prop(T.userId, h('code', null, u.id)),
					prop('Created', when(u.createdAt)),
					prop(T.erasedAt, when(u.deletedAt))),
				h('a', { href: '/admin/audit?target=' + encodeURIComponent(u.id), 'data-audit-link': '' }, 'Full audit log for this user')),
		);
	}

	const msgBox = (message) => h('div', { id: 'user-msg', 'aria-live': 'polite' }, message && h('div', { class: 'alert alert-info', role: 'status' }, message));
	const fail = (err) => replace(main.querySelector('#user-msg'), errorBox(err));
	// Each piece of content with its state; a PENDING avatar is shown as pending.
	const contentState = (m) => {
		const parts = [[R.nickname, m.nickname, m.nicknameLabel], [R.avatar, m.avatar, m.avatarLabel]].filter((p) => p[1]);
		return parts.length ? h('span', { id: 'moderation' }, parts.map(([k, st, l]) => h('span', { 'data-content': k.toLowerCase() }, k, ' ', stateBadge(st, l), ' '))) : dash();
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
	async function download(btn, Name) {
		btn.disabled = true;
		try {
			const d = await gql(USER_DATA, { id });
			const url = URL.createObjectURL(new Blob([d.userData], { type: 'application/json' }));
			const a = h('a', { href: url, download: `user-${id}.json`, hidden: true });
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(url), 60_000);
			const done = `${Name}'s data is downloaded (${Math.ceil(d.userData.length / 1024)} KB, JSON). The download is in the audit log.`;
			ctx.announce(done);
			await load(done);
		} finally {
			btn.disabled = false;
		}
	}

	load();
	return { unmount: () => ctrl?.abort() };
}
