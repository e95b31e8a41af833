// The audit log, newest first, with filters and cursor paging in the URL.
import { h, replace, debounce } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { badge, dash, empty, errorBox, field, loading, pager, titled, when } from '../lib/ui.js';

const FIELDS = `edges { node { id at action actor { kind id name } target ip detail } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;
const FORWARD = `query Audit($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(first: $n, after: $cursor, filter: $filter) { ${FIELDS} } }`;
const BACKWARD = `query AuditBack($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(last: $n, before: $cursor, filter: $filter) { ${FIELDS} } }`;
const ACTIONS = ['user.create', 'user.login', 'user.logout', 'user.disable', 'user.enable', 'user.revoke_sessions', 'session.revoke',
	'user.delete_requested', 'user.delete_cancelled', 'user.erase',
	'admin.login', 'admin.login_failed', 'admin.logout', 'admin.create', 'admin.passwd', 'admin.disable', 'admin.enable'];
const SIZES = [20, 50, 100];
const KEYS = ['actor', 'action', 'target'];

function readQuery(q) {
	const v = { size: SIZES.includes(Number(q.get('size'))) ? Number(q.get('size')) : 50, after: q.get('after') || '', before: q.get('before') || '' };
	for (const k of KEYS) v[k] = (q.get(k) || '').trim().slice(0, 200);
	return v;
}

function href(v) {
	const q = new URLSearchParams();
	for (const k of KEYS) if (v[k]) q.set(k, v[k]);
	if (v.size !== 50) q.set('size', String(v.size));
	if (v.after) q.set('after', v.after);
	else if (v.before) q.set('before', v.before);
	const s = q.toString();
	return '/admin/audit' + (s ? '?' + s : '');
}

const userLink = (id, label) => h('a', { href: '/admin/users/' + encodeURIComponent(id) }, label);

// Actions whose target is a user id.
const targetsUser = (action) => action.startsWith('user.');

function detailText(d) {
	return Object.entries(d || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ');
}

export function mount(main, ctx) {
	titled('Audit log');
	let view = readQuery(ctx.query);
	let ctrl;
	const text = (id, name, ph) => h('input', { id, name, placeholder: ph, autocomplete: 'off', spellcheck: 'false', onInput: debounce(() => go({ [name]: ctl[name].value.trim() }), 400) });
	const ctl = {
		actor: text('audit-actor', 'actor', 'An admin or user id'),
		target: text('audit-target', 'target', 'A user, session or admin id'),
	};
	const other = h('option', { value: '*' }, 'Other…');
	const actionSel = h('select', { id: 'audit-action-select', onChange: () => {
		if (actionSel.value === '*') { actionOther.hidden = false; actionOther.focus(); } else go({ action: actionSel.value });
	} }, h('option', { value: '' }, 'Any action'), ACTIONS.map((a) => h('option', { value: a }, a)), other);
	const actionOther = h('input', { id: 'audit-action', 'aria-label': 'Other action', placeholder: 'e.g. user.login', hidden: true, onInput: debounce(() => go({ action: actionOther.value.trim() }), 400) });
	const size = h('select', { id: 'audit-size', onChange: () => go({ size: Number(size.value) }) }, SIZES.map((n) => h('option', { value: String(n) }, `${n} per page`)));
	const results = h('div', { class: 'results', id: 'audit-results' });
	main.append(
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Audit log'), h('p', { class: 'count muted' }, 'Newest first')),
		h('form', { class: 'filters filters-audit', role: 'search', 'aria-label': 'Filter the audit log', onSubmit: (e) => e.preventDefault() },
			field('Actor id', ctl.actor),
			h('div', { class: 'field' }, h('label', { for: 'audit-action-select' }, 'Action'), actionSel, actionOther),
			field('Target', ctl.target),
			field('Page size', size),
			h('div', { class: 'field field-end' }, h('a', { class: 'btn btn-quiet', href: '/admin/audit' }, 'Clear filters'))),
		results,
	);

	function go(changes) {
		const next = { ...view, ...changes, after: '', before: '' };
		if (href(next) !== href(view)) ctx.navigate(href(next));
	}

	function sync() {
		for (const k of ['actor', 'target']) if (document.activeElement !== ctl[k]) ctl[k].value = view[k];
		const known = !view.action || ACTIONS.includes(view.action);
		actionSel.value = known ? view.action : '*';
		actionOther.hidden = known;
		if (!known && document.activeElement !== actionOther) actionOther.value = view.action;
		size.value = String(view.size);
	}

	function row({ node: e }) {
		const a = e.actor;
		const actor = [badge(a.kind, 'kind'), ' ', a.kind === 'user' && a.id ? userLink(a.id, a.name || a.id) : a.name || a.id || ''];
		const target = !e.target ? dash() : targetsUser(e.action) ? userLink(e.target, e.target) : h('code', null, e.target);
		return h('tr', { 'data-entry-id': e.id, 'data-audit-action': e.action },
			h('td', { 'data-label': 'When' }, when(e.at)),
			h('td', { 'data-label': 'Action', class: 'cell-action' }, h('code', null, e.action)),
			h('td', { 'data-label': 'Actor', class: 'cell-actor' }, actor),
			h('td', { 'data-label': 'Target', class: 'cell-target' }, target),
			h('td', { 'data-label': 'IP' }, e.ip || dash()),
			h('td', { 'data-label': 'Detail', class: 'cell-detail' }, detailText(e.detail)));
	}

	async function load() {
		ctrl?.abort();
		ctrl = new AbortController();
		const signal = ctrl.signal;
		sync();
		results.setAttribute('aria-busy', 'true');
		if (!results.querySelector('table')) replace(results, loading('Loading the audit log…'));
		else results.classList.add('stale');
		const filter = {};
		if (view.actor) filter.actorId = view.actor;
		if (view.action) filter.action = view.action;
		if (view.target) filter.target = view.target;
		const back = !!view.before;
		try {
			const d = await gql(back ? BACKWARD : FORWARD, { n: view.size, cursor: (back ? view.before : view.after) || null, filter }, { signal });
			const { edges, pageInfo: p } = d.auditLog;
			if (!edges.length) {
				replace(results, empty(view.after || view.before ? 'No more entries this way.' : 'No entries match these filters.'));
			} else {
				const prev = p.hasPreviousPage && p.startCursor && href({ ...view, after: '', before: p.startCursor });
				const next = p.hasNextPage && p.endCursor && href({ ...view, before: '', after: p.endCursor });
				replace(results,
					h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Audit entries', tabindex: '0' },
						h('table', { id: 'audit-table', class: 'table cards' },
							h('caption', { class: 'sr-only' }, 'Audit entries, newest first'),
							h('thead', null, h('tr', null, ['When', 'Action', 'Actor', 'Target', 'IP', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
							h('tbody', null, edges.map(row)))),
					pager(prev, next));
			}
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(results, errorBox(e, load));
		}
		results.removeAttribute('aria-busy');
		results.classList.remove('stale');
	}

	load();
	return {
		update(c) {
			view = readQuery(c.query);
			load();
		},
		unmount: () => ctrl?.abort(),
	};
}
