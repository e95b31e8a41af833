// The audit log, newest first, with filters and cursor paging in the URL.
import { h, replace, debounce } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { badge, dash, empty, errorBox, field, loading, pager, raw, titled, when } from '../lib/ui.js';
import { t, has, keys } from '../lib/i18n.js';

const FIELDS = `edges { node { id at action actor { kind id name } target ip detail } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;
const FORWARD = `query Audit($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(first: $n, after: $cursor, filter: $filter) { ${FIELDS} } }`;
const BACKWARD = `query AuditBack($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(last: $n, before: $cursor, filter: $filter) { ${FIELDS} } }`;
// Every action the server writes: the catalogue names each one (web/admin_i18n_test.go holds them together).
const ACTIONS = keys('action.').map((k) => k.slice(7));

/** An audit action's name in the page's language; one this page does not know, as it is. */
export const actionName = (a) => (has('action.' + a) ? t('action.' + a) : a);

/** Who acted, when no name or id says it: a user, an admin, the system, WeChat, someone unknown. */
export const actorKind = (k) => ({ user: t('audit.kindUser'), admin: t('audit.kindAdmin'), system: t('audit.kindSystem'), wechat: t('audit.kindWechat'), anonymous: t('audit.kindAnonymous') })[k] || k;
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

const userLink = (id, label) => h('a', { href: '/admin/users/' + encodeURIComponent(id), translate: 'no' }, label);

// Actions whose target is a user id.
const targetsUser = (action) => action.startsWith('user.');

function detailText(d) {
	return Object.entries(d || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ');
}

export function mount(main, ctx) {
	titled(t('audit.title'));
	let view = readQuery(ctx.query);
	let ctrl;
	const text = (id, name, ph) => h('input', { id, name, placeholder: ph, autocomplete: 'off', spellcheck: 'false', onInput: debounce(() => go({ [name]: ctl[name].value.trim() }), 400) });
	const ctl = {
		actor: text('audit-actor', 'actor', t('audit.actorPlaceholder')),
		target: text('audit-target', 'target', t('audit.targetPlaceholder')),
	};
	const other = h('option', { value: '*' }, t('audit.otherAction'));
	const actionSel = h('select', { id: 'audit-action-select', onChange: () => {
		if (actionSel.value === '*') { actionOther.hidden = false; actionOther.focus(); } else go({ action: actionSel.value });
	} }, h('option', { value: '' }, t('audit.anyAction')), ACTIONS.map((a) => h('option', { value: a }, actionName(a))), other);
	const actionOther = h('input', { id: 'audit-action', 'aria-label': t('audit.otherActionLabel'), placeholder: t('audit.otherActionPlaceholder'), hidden: true, onInput: debounce(() => go({ action: actionOther.value.trim() }), 400) });
	const size = h('select', { id: 'audit-size', onChange: () => go({ size: Number(size.value) }) }, SIZES.map((n) => h('option', { value: String(n) }, t('common.perPage', { n }))));
	const results = h('div', { class: 'results', id: 'audit-results' });
	main.append(
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t('audit.title')), h('p', { class: 'count muted' }, t('audit.newestFirst'))),
		h('form', { class: 'filters filters-audit', role: 'search', 'aria-label': t('audit.filters'), onSubmit: (e) => e.preventDefault() },
			field(t('audit.actorId'), ctl.actor),
			h('div', { class: 'field' }, h('label', { for: 'audit-action-select' }, t('audit.action')), actionSel, actionOther),
			field(t('audit.target'), ctl.target),
			field(t('common.pageSize'), size),
			h('div', { class: 'field field-end' }, h('a', { class: 'btn btn-quiet', href: '/admin/audit' }, t('common.clearFilters')))),
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
		const actor = [badge(actorKind(a.kind), 'kind'), ' ', a.kind === 'user' && a.id ? userLink(a.id, a.name || a.id) : raw(a.name || a.id || '')];
		const target = !e.target ? dash() : targetsUser(e.action) ? userLink(e.target, e.target) : raw(e.target, 'code');
		return h('tr', { 'data-entry-id': e.id, 'data-audit-action': e.action },
			h('td', { 'data-label': t('audit.when') }, when(e.at)),
			h('td', { 'data-label': t('audit.action'), class: 'cell-action' }, h('span', { title: e.action }, actionName(e.action))),
			h('td', { 'data-label': t('audit.actor'), class: 'cell-actor' }, actor),
			h('td', { 'data-label': t('audit.target'), class: 'cell-target' }, target),
			h('td', { 'data-label': t('user.ip') }, e.ip ? raw(e.ip) : dash()),
			h('td', { 'data-label': t('audit.detail'), class: 'cell-detail', translate: 'no' }, detailText(e.detail)));
	}

	async function load() {
		ctrl?.abort();
		ctrl = new AbortController();
		const signal = ctrl.signal;
		sync();
		results.setAttribute('aria-busy', 'true');
		if (!results.querySelector('table')) replace(results, loading(t('audit.loading')));
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
				replace(results, empty(view.after || view.before ? t('audit.noMore') : t('audit.noMatch')));
			} else {
				const prev = p.hasPreviousPage && p.startCursor && href({ ...view, after: '', before: p.startCursor });
				const next = p.hasNextPage && p.endCursor && href({ ...view, before: '', after: p.endCursor });
				replace(results,
					h('div', { class: 'table-wrap', role: 'region', 'aria-label': t('audit.entries'), tabindex: '0' },
						h('table', { id: 'audit-table', class: 'table cards' },
							h('caption', { class: 'sr-only' }, t('audit.caption')),
							h('thead', null, h('tr', null, [t('audit.when'), t('audit.action'), t('audit.actor'), t('audit.target'), t('user.ip'), t('audit.detail')].map((c) => h('th', { scope: 'col' }, c)))),
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
