// Users: search, filters, sorting and cursor paging, all held in the URL so
// that a view is bookmarkable and the back button walks through it.
import { h, replace, debounce } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { avatar, badge, dash, empty, errorBox, field, loading, nickname, pager, raw, statusBadge, titled, when } from '../lib/ui.js';
import { t, tn } from '../lib/i18n.js';

const FIELDS = `edges { node { id nickname avatarUrl phone createdAt lastLoginAt disabled erasesAt deletedAt } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`;
const FORWARD = `query Users($n: Int!, $cursor: String, $filter: UserFilter, $orderBy: UserOrder) {
	users(first: $n, after: $cursor, filter: $filter, orderBy: $orderBy) { ${FIELDS} } }`;
const BACKWARD = `query UsersBack($n: Int!, $cursor: String, $filter: UserFilter, $orderBy: UserOrder) {
	users(last: $n, before: $cursor, filter: $filter, orderBy: $orderBy) { ${FIELDS} } }`;
const COUNT = `query UsersCount($filter: UserFilter) { users(first: 1, filter: $filter) { totalCount } }`;

const SIZES = [10, 20, 50, 100];
// Counts by filter, for a minute, 50 at most: one may take seconds to count.
const counts = new Map();
export const forgetCounts = () => counts.clear();
const SORTS = { created: 'CREATED_AT', lastLogin: 'LAST_LOGIN_AT' };
// The deletion filter's values in the URL; none is the default, every user not erased.
const DELETION = { pending: 'PENDING', erased: 'ERASED' };

/** The view the URL asks for, with defaults filled in and junk dropped. */
function readQuery(q) {
	const size = Number(q.get('size'));
	const date = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v || '') ? v : '');
	return {
		q: (q.get('q') || '').slice(0, 200),
		from: date(q.get('from')),
		to: date(q.get('to')),
		disabled: ['yes', 'no'].includes(q.get('disabled')) ? q.get('disabled') : '',
		deletion: DELETION[q.get('deletion')] ? q.get('deletion') : '',
		sort: SORTS[q.get('sort')] ? q.get('sort') : 'created',
		dir: q.get('dir') === 'asc' ? 'asc' : 'desc',
		size: SIZES.includes(size) ? size : 20,
		after: q.get('after') || '',
		before: q.get('before') || '',
	};
}

/** The URL of a view; defaults are left out so URLs stay short. */
function href(v) {
	const q = new URLSearchParams();
	if (v.q) q.set('q', v.q);
	if (v.from) q.set('from', v.from);
	if (v.to) q.set('to', v.to);
	if (v.disabled) q.set('disabled', v.disabled);
	if (v.deletion) q.set('deletion', v.deletion);
	if (v.sort !== 'created') q.set('sort', v.sort);
	if (v.dir !== 'desc') q.set('dir', v.dir);
	if (v.size !== 20) q.set('size', String(v.size));
	if (v.after) q.set('after', v.after);
	else if (v.before) q.set('before', v.before);
	const s = q.toString();
	return '/admin/users' + (s ? '?' + s : '');
}

// A date input's day, as the start of that day in the admin's time zone.
function dayStart(d, plusDays = 0) {
	const [y, m, day] = d.split('-').map(Number);
	return new Date(y, m - 1, day + plusDays).toISOString();
}

function filterOf(v) {
	const f = {};
	if (v.q.trim()) f.search = v.q.trim();
	if (v.from) f.createdAfter = dayStart(v.from);
	if (v.to) f.createdBefore = dayStart(v.to, 1); // the "to" day included
	if (v.disabled) f.disabled = v.disabled === 'yes';
	if (v.deletion) f.deletion = DELETION[v.deletion];
	return f;
}

export function mount(main, ctx) {
	titled(t('users.title'));
	let view = readQuery(ctx.query);
	let ctrl = null; // aborts the page request in flight
	let countCtrl = null;
	let countKey = null;

	const search = h('input', { type: 'search', id: 'user-search', name: 'q', autocomplete: 'off', placeholder: t('users.searchPlaceholder'),
		onInput: debounce(() => go({ q: search.value }), 300),
		onKeydown: (e) => e.key === 'Enter' && (e.preventDefault(), go({ q: search.value })) });
	const from = h('input', { type: 'date', id: 'created-from', name: 'from', onChange: () => go({ from: from.value }) });
	const to = h('input', { type: 'date', id: 'created-to', name: 'to', onChange: () => go({ to: to.value }) });
	const disabled = h('select', { id: 'disabled-filter', name: 'disabled', onChange: () => go({ disabled: disabled.value }) },
		h('option', { value: '' }, t('users.anyStatus')), h('option', { value: 'no' }, t('users.activeOnly')), h('option', { value: 'yes' }, t('users.disabledOnly')));
	const deletion = h('select', { id: 'deletion-filter', name: 'deletion', onChange: () => go({ deletion: deletion.value }) },
		h('option', { value: '' }, t('deletion.notErased')), h('option', { value: 'pending' }, t('deletion.pending')), h('option', { value: 'erased' }, t('deletion.erased')));
	const size = h('select', { id: 'page-size', name: 'size', onChange: () => go({ size: Number(size.value) }) },
		SIZES.map((n) => h('option', { value: String(n) }, t('common.perPage', { n }))));
	// The column headers sort on wide screens; cards have no headers, so this does.
	const sort = h('select', { id: 'sort', onChange: () => go({ sort: sort.value.split(' ')[0], dir: sort.value.split(' ')[1] }) },
		[['created', 'desc', t('users.sortNewest')], ['created', 'asc', t('users.sortOldest')], ['lastLogin', 'desc', t('users.sortLoginRecent')], ['lastLogin', 'asc', t('users.sortLoginOldest')]]
			.map(([k, d, l]) => h('option', { value: k + ' ' + d }, l)));
	const clear = h('button', { type: 'button', class: 'btn btn-quiet', onClick: () => go({ q: '', from: '', to: '', disabled: '', deletion: '' }) }, t('common.clearFilters'));
	const count = h('p', { class: 'count muted', id: 'users-count', 'aria-live': 'polite' });
	const results = h('div', { class: 'results', id: 'users-results' });

	main.append(
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t('users.title')), count),
		h('form', { class: 'filters', role: 'search', 'aria-label': t('users.filters'), onSubmit: (e) => e.preventDefault() },
			h('div', { class: 'field grow' }, h('label', { for: 'user-search' }, t('users.search')), search),
			field(t('users.createdFrom'), from), field(t('users.createdTo'), to), field(t('users.status'), disabled), field(t('deletion.filter'), deletion), field(t('common.pageSize'), size), field(t('users.sort'), sort, 'narrow'),
			h('div', { class: 'field field-end' }, clear)),
		results,
	);

	/** Applies changes to the view: a new URL entry, first page of the new view. */
	function go(changes) {
		const next = { ...view, ...changes, after: '', before: '' };
		if (href(next) === href(view)) return;
		ctx.navigate(href(next));
	}

	function syncForm() {
		if (document.activeElement !== search) search.value = view.q;
		from.value = view.from;
		to.value = view.to;
		disabled.value = view.disabled;
		deletion.value = view.deletion;
		size.value = String(view.size);
		sort.value = view.sort + ' ' + view.dir;
		clear.hidden = !(view.q || view.from || view.to || view.disabled || view.deletion);
	}

	function sortHeader(label, key) {
		const active = view.sort === key;
		const dir = active && view.dir === 'desc' ? 'asc' : 'desc';
		return h('th', { scope: 'col', 'aria-sort': active ? (view.dir === 'asc' ? 'ascending' : 'descending') : 'none', 'data-sort': key },
			h('button', { type: 'button', class: 'sort', onClick: () => go({ sort: key, dir }) },
				label, h('span', { class: 'sort-icon', 'aria-hidden': 'true' }, active ? (view.dir === 'asc' ? '▲' : '▼') : '↕')));
	}

	function table(edges, p) {
		const rows = edges.map(({ node: u }) =>
			h('tr', { 'data-user-id': u.id, 'data-deletion': u.deletedAt ? 'erased' : u.erasesAt ? 'pending' : null },
				h('td', { class: 'cell-avatar' }, avatar(u.avatarUrl, u.nickname)),
				h('td', { 'data-label': t('users.nickname'), class: 'cell-name' }, h('a', { href: '/admin/users/' + encodeURIComponent(u.id) }, u.deletedAt ? t('deletion.erasedUser') : nickname(u))),
				h('td', { 'data-label': t('users.phone') }, u.phone ? raw(u.phone) : dash()),
				h('td', { 'data-label': t('users.created') }, when(u.createdAt)),
				h('td', { 'data-label': t('users.lastLogin') }, when(u.lastLoginAt, t('common.never'))),
				h('td', { 'data-label': t('users.status') }, u.deletedAt ? badge(t('deletion.erased')) : [statusBadge(u.disabled), u.erasesAt && [' ', badge(t('deletion.pending'), 'warn')]])));
		return [
			h('div', { class: 'table-wrap', role: 'region', 'aria-label': t('users.title'), tabindex: '0' },
				h('table', { id: 'users-table', class: 'table cards has-avatar' },
					h('caption', { class: 'sr-only' }, t(view.sort === 'created' ? (view.dir === 'asc' ? 'users.captionCreatedAsc' : 'users.captionCreatedDesc') : view.dir === 'asc' ? 'users.captionLoginAsc' : 'users.captionLoginDesc')),
					h('thead', null, h('tr', null,
						h('th', { scope: 'col', class: 'cell-avatar' }, h('span', { class: 'sr-only' }, t('common.avatar'))),
						h('th', { scope: 'col' }, t('users.nickname')),
						h('th', { scope: 'col' }, t('users.phone')),
						sortHeader(t('users.created'), 'created'),
						sortHeader(t('users.lastLogin'), 'lastLogin'),
						h('th', { scope: 'col' }, t('users.status')))),
					h('tbody', null, rows))),
			pager(p.hasPreviousPage && p.startCursor && href({ ...view, after: '', before: p.startCursor }), p.hasNextPage && p.endCursor && href({ ...view, before: '', after: p.endCursor })),
		];
	}

	async function load() {
		ctrl?.abort();
		ctrl = new AbortController();
		const signal = ctrl.signal;
		// A focused pager link or sort button hands focus to its replacement.
		const f = document.activeElement, id = results.contains(f) && (f.dataset.pager || f.parentNode.dataset.sort);
		syncForm();
		results.setAttribute('aria-busy', 'true');
		if (!results.querySelector('table')) replace(results, loading(t('users.loading')));
		else results.classList.add('stale');
		const back = !!view.before;
		const vars = { n: view.size, cursor: (back ? view.before : view.after) || null, filter: filterOf(view), orderBy: { field: SORTS[view.sort], direction: view.dir.toUpperCase() } };
		loadCount(vars.filter);
		try {
			const d = await gql(back ? BACKWARD : FORWARD, vars, { signal });
			const conn = d.users;
			if (!conn.edges.length) {
				const filtered = view.q || view.from || view.to || view.disabled || view.deletion;
				replace(results, view.after || view.before
					? empty(t('users.noMore'), h('a', { class: 'btn', href: href({ ...view, after: '', before: '' }) }, t('users.firstPage')))
					: empty(filtered ? t('users.noMatch') : t('users.none')));
			} else {
				replace(results, table(conn.edges, conn.pageInfo));
			}
			performance.mark('wx:users-rendered');
		} catch (e) {
			if (e.name === 'AbortError') return;
			replace(results, errorBox(e, load));
		} finally {
			if (!signal.aborted) {
				results.removeAttribute('aria-busy');
				results.classList.remove('stale');
				if (id && document.activeElement === document.body) (results.querySelector(`a[data-pager=${id}],[data-sort=${id}] button`) || results.querySelector('a[data-pager]') || main.querySelector('h1')).focus();
			}
		}
	}

	// The count of matches costs a scan, so it comes on its own, once per filter.
	async function loadCount(filter) {
		const key = JSON.stringify(filter);
		if (key === countKey) return;
		countKey = key;
		countCtrl?.abort();
		count.textContent = '';
		let c = counts.get(key);
		try {
			if (!(c?.at > Date.now() - 6e4)) {
				countCtrl = new AbortController();
				const d = await gql(COUNT, { filter }, { signal: countCtrl.signal });
				counts.delete(key);
				counts.set(key, (c = { n: d.users.totalCount, at: Date.now() }));
				if (counts.size > 50) counts.delete(counts.keys().next().value);
			}
			const n = c.n;
			const filtered = Object.keys(filter).length > 0;
			count.textContent = tn(filtered ? 'users.countMatch' : 'users.count', n);
		} catch (e) {
			if (e.name !== 'AbortError') countKey = null;
		}
	}

	load();
	return {
		update(c) {
			view = readQuery(c.query);
			load();
		},
		unmount() {
			ctrl?.abort();
			countCtrl?.abort();
		},
	};
}
