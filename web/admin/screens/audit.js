// The audit log, newest first, with filters and cursor paging in the URL.
import { h, replace, debounce } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { badge, dash, empty, errorBox, field, loading, pager, raw, titled, when } from '../lib/ui.js';
import { t, tp, has, keys } from '../lib/i18n.js';

const FIELDS = `edges { node { id at action actor { kind id name state } targetParty { kind id name state } ip detail } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;
const FORWARD = `query Audit($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(first: $n, after: $cursor, filter: $filter) { ${FIELDS} } }`;
const BACKWARD = `query AuditBack($n: Int!, $cursor: String, $filter: AuditFilter) { auditLog(last: $n, before: $cursor, filter: $filter) { ${FIELDS} } }`;
// Every action the server writes: the catalogue names each one (web/admin_i18n_test.go holds them
// to the code, as web/admin_audit_actions_test.go holds the auditActions query's list).
const ACTIONS = keys('action.').map((k) => k.slice(7));

/** An audit action's name in the page's language; one this page does not know, as it is. */
export const actionName = (a) => (has('action.' + a) ? t('action.' + a) : a);

/** Who acted, when no name or id says it: a user, an admin, the system, WeChat, someone unknown. */
export const actorKind = (k) => ({ user: t('audit.kindUser'), admin: t('audit.kindAdmin'), system: t('audit.kindSystem'), wechat: t('audit.kindWechat'), anonymous: t('audit.kindAnonymous'), session: t('audit.kindSession') })[k] || k;
const SIZES = [20, 50, 100];
// The filters in the URL: admin name, user (id or search), action, and a range of days (from, to: YYYY-MM-DD,
// days of the viewer's zone); actor and target are exact ids from older links, kept while they are there.
const KEYS = ['admin', 'user', 'action', 'from', 'to', 'actor', 'target'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function readQuery(q) {
	const v = { size: SIZES.includes(Number(q.get('size'))) ? Number(q.get('size')) : 50, after: q.get('after') || '', before: q.get('before') || '' };
	for (const k of KEYS) v[k] = (q.get(k) || '').trim().slice(0, 100);
	for (const k of ['from', 'to']) if (!DAY.test(v[k])) v[k] = '';
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

/** Midnight starting a day (YYYY-MM-DD) in the viewer's time zone, plus days, as RFC 3339. */
function midnight(ymd, days = 0) {
	const [y, m, d] = ymd.split('-').map(Number);
	return new Date(y, m - 1, d + days).toISOString();
}

/** The filter the API takes for the view. */
function filterOf(v) {
	const f = {};
	if (v.admin) f.admin = v.admin;
	if (v.user) f.user = v.user;
	if (v.action) f.action = v.action;
	if (v.from) f.since = midnight(v.from);
	if (v.to) f.until = midnight(v.to, 1); // the whole of the last day
	if (v.actor) f.actorId = v.actor;
	if (v.target) f.target = v.target;
	return f;
}

/** What to call a party without a name to show. */
function unnamed(p) {
	if (p.state === 'ERASED') return t('audit.erasedUser');
	if (p.state === 'UNKNOWN') return p.kind === 'user' ? t('audit.goneUser') : t('audit.unknown');
	return p.kind === 'user' ? t('common.noNickname') : actorKind(p.kind);
}

/** A button copying id; its label (and title) from the catalogue, its icon from CSS. */
function copyButton(id) {
	const b = h('button', { type: 'button', class: 'copy', title: t('audit.copyId'), 'aria-label': t('audit.copyId'), 'data-copy': id, onClick: async () => {
		try {
			await navigator.clipboard.writeText(id);
			b.classList.add('copied');
			b.title = t('audit.copied');
		} catch {
			b.title = id; // no clipboard (http, denied): the id shows on hover to copy by hand
		}
	} });
	return b;
}

/** An actor or target: kind, name (a user's links to their page), the id on hover and a copy button. */
function party(p) {
	const name = p.state === 'NAMED' && p.name ? p.name : h('span', { class: 'muted' }, unnamed(p));
	// The id on hover is data, as the name is: not for translation (nor for the language checks).
	const label = h('span', { class: 'party-name', translate: 'no', title: p.id || null }, name);
	return h('span', { class: 'party', 'data-party-id': p.id || null, 'data-state': p.state },
		badge(actorKind(p.kind), 'kind'), ' ', p.kind === 'user' && p.id ? h('a', { href: '/admin/users/' + encodeURIComponent(p.id) }, label) : label, p.id && copyButton(p.id));
}

function detailText(d) {
	return Object.entries(d || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ');
}

export function mount(main, ctx) {
	titled(t('audit.title'));
	let view = readQuery(ctx.query);
	let ctrl;
	const text = (id, name, ph, extra) => h('input', { id, name, placeholder: ph, autocomplete: 'off', spellcheck: 'false', ...extra, onInput: debounce(() => go({ [name]: ctl[name].value.trim() }), 400) });
	const day = (id, name) => h('input', { id, name, type: 'date', onChange: () => go({ [name]: DAY.test(ctl[name].value) ? ctl[name].value : '' }) });
	const ctl = {
		admin: text('audit-admin', 'admin', t('audit.adminPlaceholder'), { maxlength: '64' }),
		user: text('audit-user', 'user', t('audit.userPlaceholder'), { maxlength: '100' }),
		from: day('audit-from', 'from'),
		to: day('audit-to', 'to'),
	};
	const actionSel = h('select', { id: 'audit-action-select', name: 'action', onChange: () => go({ action: actionSel.value }) },
		h('option', { value: '' }, t('audit.anyAction')), ACTIONS.map((a) => h('option', { value: a }, actionName(a))));
	const size = h('select', { id: 'audit-size', onChange: () => go({ size: Number(size.value) }) }, SIZES.map((n) => h('option', { value: String(n) }, t('common.perPage', { n }))));
	const exact = h('div', { class: 'exact', id: 'audit-exact' });
	const results = h('div', { class: 'results', id: 'audit-results' });
	main.append(
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t('audit.title')), h('p', { class: 'count muted' }, t('audit.newestFirst'))),
		h('form', { class: 'filters filters-audit', role: 'search', 'aria-label': t('audit.filters'), onSubmit: (e) => e.preventDefault() },
			field(t('audit.admin'), ctl.admin),
			field(t('audit.user'), ctl.user),
			field(t('audit.action'), actionSel),
			field(t('audit.from'), ctl.from),
			field(t('audit.to'), ctl.to),
			field(t('common.pageSize'), size),
			h('div', { class: 'field field-end' }, h('a', { class: 'btn btn-quiet', href: '/admin/audit' }, t('common.clearFilters')))),
		exact,
		results,
	);

	function go(changes) {
		const next = { ...view, ...changes, after: '', before: '' };
		if (href(next) !== href(view)) ctx.navigate(href(next));
	}

	function sync() {
		for (const k of ['admin', 'user', 'from', 'to']) if (document.activeElement !== ctl[k]) ctl[k].value = view[k];
		// An action of an older server, from a link: offered as it is.
		if (view.action && !ACTIONS.includes(view.action) && ![...actionSel.options].some((o) => o.value === view.action)) actionSel.append(h('option', { value: view.action }, view.action));
		actionSel.value = view.action;
		size.value = String(view.size);
		replace(exact, ...['actor', 'target'].filter((k) => view[k]).map((k) =>
			h('p', { class: 'small' }, tp(k === 'actor' ? 'audit.exactActor' : 'audit.exactTarget', { id: raw(view[k], 'code') }), ' ', h('a', { href: href({ ...view, [k]: '', after: '', before: '' }) }, t('audit.removeFilter')))));
	}

	function row({ node: e }) {
		const tg = e.targetParty;
		// The actor itself (a user's own login) is shown once; isActor says it too, at a field more per row.
		const target = !tg ? dash() : tg.id === e.actor.id ? h('span', { class: 'muted', 'data-self': '' }, t('audit.self')) : party(tg);
		return h('tr', { 'data-entry-id': e.id, 'data-audit-action': e.action },
			h('td', { 'data-label': t('audit.when') }, when(e.at)),
			h('td', { 'data-label': t('audit.action'), class: 'cell-action' }, actionName(e.action)),
			h('td', { 'data-label': t('audit.actor'), class: 'cell-actor' }, party(e.actor)),
			h('td', { 'data-label': t('audit.target'), class: 'cell-target' }, target),
			h('td', { 'data-label': t('user.ip'), class: 'cell-ip' }, e.ip ? raw(e.ip) : dash()),
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
		const filter = filterOf(view);
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
