// The overview: user counts and logins per day. Each stats figure costs 550
// of the server's default complexity limit of 2500 (a request holds four),
// so the eight come in three requests. Erased users are not "total users":
// they and the pending deletions are counted apart.
import { h, s, replace } from '../lib/dom.js';
import { gql } from '../lib/api.js';
import { errorBox, loading, raw, titled } from '../lib/ui.js';
import { t, tn, tp, num, day as dayLabel, compact, zoneName } from '../lib/i18n.js';

const COUNTS = `query Counts { stats { timeZone totalUsers new7: newUsers(days: 7) new30: newUsers(days: 30) active7: activeUsers(days: 7) } }`;
const LOGINS = `query Logins { stats { active30: activeUsers(days: 30) loginsPerDay(days: 30) { day count } } }`;
const DELETIONS = `query Deletions { stats { pendingDeletion deletedUsers } }`;

// On a phone the chart is drawn narrower, with fewer labels.
const narrow = matchMedia('(max-width: 560px)');

export function mount(main) {
	titled(t('overview.title'));
	const ctrl = new AbortController();
	let days;
	const draw = () => days && replace(chart, bars(days, narrow.matches));
	narrow.onchange = draw;
	const cards = h('dl', { class: 'stats', id: 'stats' }, loading());
	// The server's STATS_TIME_ZONE, once the counts name it.
	const zone = h('p', { class: 'count muted', id: 'stats-zone' });
	const chart = h('div', { id: 'logins-chart' }, loading(t('overview.loadingLogins')));
	main.append(
		h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t('overview.title')), zone),
		cards,
		h('section', { class: 'panel', 'aria-labelledby': 'h-logins' }, h('h2', { id: 'h-logins' }, t('overview.chartTitle')), chart),
	);

	async function load() {
		main.setAttribute('aria-busy', 'true');
		const res = await Promise.allSettled([COUNTS, LOGINS, DELETIONS].map((q) => gql(q, {}, { signal: ctrl.signal })));
		if (ctrl.signal.aborted) return;
		main.removeAttribute('aria-busy');
		const [a, b, c] = res;
		// A failed request leaves its figures a dash, under the error; the rest show.
		const failed = res.find((r) => r.status === 'rejected');
		const st = Object.assign({}, ...res.map((r) => (r.status === 'fulfilled' ? r.value.stats : {})));
		if (st.timeZone) replace(zone, tp('overview.zone', { zone: zoneName(st.timeZone), id: raw(st.timeZone, 'code') }));
		const card = (label, v, key) => h('div', { class: 'stat', 'data-stat': key }, h('dt', null, label), h('dd', null, v == null ? '—' : num(v)));
		replace(cards,
			failed && h('div', { style: { gridColumn: '1 / -1' } }, errorBox(failed.reason, () => { replace(cards, loading()); load(); })),
			(a.status === 'fulfilled' || c.status === 'fulfilled') && [
				card(t('overview.total'), st.totalUsers, 'total'),
				card(t('overview.new7'), st.new7, 'new7'),
				card(t('overview.new30'), st.new30, 'new30'),
				card(t('overview.active7'), st.active7, 'active7'),
				card(t('overview.active30'), st.active30, 'active30'),
				card(t('deletion.statPending'), st.pendingDeletion, 'pending'),
				card(t('deletion.statErased'), st.deletedUsers, 'deleted')]);
		if (b.status === 'rejected') replace(chart);
		if (b.status === 'fulfilled') draw((days = b.value.stats.loginsPerDay));
	}

	load();
	return { unmount: () => (ctrl.abort(), (narrow.onchange = null)) };
}


/** A bar chart in inline SVG, described for screen readers, with the numbers in a table too. */
function bars(days, small) {
	// 320 wide for a phone's 330 px or so: text draws at 11 px, not 4.
	const W = small ? 320 : 900, H = 240, L = 44, B = 28, T = 10;
	const max = Math.max(1, ...days.map((d) => d.count));
	// Round the scale up to a tidy number times a power of ten.
	const p = 10 ** Math.floor(Math.log10(max));
	const top = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((v) => v >= max);
	const y = (v) => T + (H - T - B) * (1 - v / top);
	const step = (W - L) / days.length;
	const total = days.reduce((n, d) => n + d.count, 0);
	const peak = days.reduce((m, d) => (d.count > m.count ? d : m), days[0] || { count: 0 });
	const summary = days.length
		? t('overview.summary', { total: tn('overview.logins', total), days: num(days.length), from: dayLabel(days[0].day), to: dayLabel(days[days.length - 1].day), peak: dayLabel(peak.day), peakCount: num(peak.count) })
		: t('overview.noData');
	const ticks = [0, top / 2, top];
	const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc' },
		s('title', { id: 'chart-title' }, t('overview.chartTitle')),
		s('desc', { id: 'chart-desc' }, summary),
		ticks.map((v) => s('g', null,
			s('line', { class: 'grid', x1: L, x2: W, y1: y(v), y2: y(v) }),
			s('text', { class: 'axis', x: L - 8, y: y(v) + 4, 'text-anchor': 'end' }, compact(v)))),
		days.map((d, i) => {
			const bh = (H - T - B) * (d.count / top);
			return s('g', null,
				s('rect', { class: 'bar', x: L + i * step + step * 0.15, y: y(d.count), width: step * 0.7, height: Math.max(bh, d.count ? 1 : 0), rx: 2, 'data-day': d.day, 'data-count': d.count },
					s('title', null, t('overview.barTitle', { day: dayLabel(d.day), logins: tn('overview.logins', d.count) }))),
				(days.length - 1 - i) % (small ? 7 : 5) === 0 && s('text', { class: 'axis', x: L + i * step + step / 2, y: H - 8, 'text-anchor': 'middle' }, dayLabel(d.day)));
		}));
	return [
		svg,
		h('p', { class: 'small muted' }, summary),
		h('details', { class: 'data' }, h('summary', null, t('overview.showNumbers')),
			h('table', { class: 'table' }, h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('overview.day')), h('th', { scope: 'col' }, t('overview.loginsCol')))),
				h('tbody', null, days.map((d) => h('tr', null, h('td', null, d.day), h('td', null, num(d.count))))))),
	];
}
