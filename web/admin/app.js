// The dashboard's shell: routes, the header, and the admin session.
import { h, replace } from './lib/dom.js';
import { gql, session, setEnrolmentRequiredHandler, setUnauthenticatedHandler } from './lib/api.js';
import * as signin from './screens/signin.js';
import * as overview from './screens/overview.js';
import * as users from './screens/users.js';
import * as user from './screens/user.js';
import * as audit from './screens/audit.js';
import * as review from './screens/review.js';
import * as admins from './screens/admins.js';
import * as account from './screens/account.js';
import * as twostep from './screens/twostep.js';
import { t } from './lib/i18n.js'; // sets <html lang> and loads the catalogue before any screen
import { langSwitch, roleName } from './lib/ui.js';

const BASE = '/admin';
const routes = [
	[/^\/admin\/?$/, overview, 'overview'],
	[/^\/admin\/users\/?$/, users, 'users'],
	[/^\/admin\/users\/([^/]+)\/?$/, user, 'users'],
	[/^\/admin\/audit\/?$/, audit, 'audit'],
	[/^\/admin\/review\/?$/, review, 'review'],
	[/^\/admin\/admins\/?$/, admins, 'admins', 'ADMIN'], // a 4th element: the role a screen needs
	[/^\/admin\/account\/?$/, account, 'account'],
	[/^\/admin\/account\/2fa\/?$/, twostep, 'twostep'],
	[/^\/admin\/signin\/?$/, signin, null],
];

const main = document.getElementById('main');
const top = document.getElementById('top');
const status = document.getElementById('status');
document.querySelector('.skip-link').textContent = t('nav.skip');
let current = null; // {screen, view, key}
let notice = null; // a message for the next screen, e.g. "your session ended"

/** Goes to url inside the app (pushState, or replaceState with replace). */
export function navigate(url, { replace: rep = false } = {}) {
	const u = new URL(url, location.href);
	if (u.origin + u.pathname + u.search === location.origin + location.pathname + location.search && !rep) return;
	history[rep ? 'replaceState' : 'pushState'](null, '', u.pathname + u.search);
	render();
}

/** Announces text to screen readers. */
export function announce(text) {
	status.textContent = '';
	setTimeout(() => (status.textContent = text), 50);
}

function here() {
	return location.pathname + location.search;
}

function signOutLocally(message) {
	session.clear();
	notice = message;
	current?.view?.unmount?.();
	current = null;
}

// The admin session ended (expired, revoked, signed out elsewhere): sign in
// again, then come back here.
function sessionEnded() {
	if (location.pathname.startsWith(BASE + '/signin')) return;
	session.returnTo = here();
	signOutLocally(t('nav.sessionEnded'));
	navigate(BASE + '/signin', { replace: true });
}
setUnauthenticatedHandler(sessionEnded);

// ADMIN_REQUIRE_TOTP and no two-step sign-in yet: the session may only set
// it up, so every screen sends the admin there.
const ENROL = BASE + '/account/2fa?required=1';
setEnrolmentRequiredHandler(() => {
	if (location.pathname + location.search !== ENROL) navigate(ENROL, { replace: true });
});

function renderHeader(active) {
	const adm = session.admin;
	if (!adm || active === undefined) {
		top.hidden = true;
		top.replaceChildren();
		return;
	}
	const link = (href, label, key) => h('a', { href, 'aria-current': key === active ? 'page' : null }, label);
	replace(top, h('div', { class: 'top-inner' },
			h('a', { class: 'brand', href: BASE + '/' }, 'wxlogin', h('span', null, t('nav.brandSuffix'))),
			h('nav', { 'aria-label': t('nav.main') }, link(BASE + '/', t('nav.overview'), 'overview'), link(BASE + '/users', t('nav.users'), 'users'), link(BASE + '/review', t('nav.review'), 'review'), link(BASE + '/audit', t('nav.audit'), 'audit'), adm.role === 'ADMIN' && link(BASE + '/admins', t('nav.admins'), 'admins')),
			h('div', { class: 'who' },
				h('a', { class: 'who-name', href: BASE + '/account', title: t('account.title'), 'aria-current': active === 'account' || active === 'twostep' ? 'page' : null, 'data-admin': adm.username, translate: 'no' }, adm.username),
				h('span', { class: 'badge', 'data-role': adm.role }, roleName(adm.role)),
				langSwitch(),
				h('button', { type: 'button', class: 'btn btn-quiet', onClick: signOut }, t('nav.signOut')),
			),
		),
	);
	top.hidden = false;
}

async function signOut() {
	try {
		await gql('mutation { adminLogout }');
	} catch {
		// The session may be gone already; signing out here still ends it for this tab.
	}
	session.returnTo = null;
	signOutLocally(t('nav.signedOut'));
	navigate(BASE + '/signin');
}

function render() {
	const path = location.pathname;
	let match = null;
	let route = routes.find((r) => (match = path.match(r[0])));
	// A screen above the admin's role does not exist for them.
	if (route && route[3] && session.admin?.role !== route[3]) route = null;
	const screen = route ? route[1] : null;
	if (screen !== signin && !session.token) {
		if (!notice) session.returnTo = here();
		history.replaceState(null, '', BASE + '/signin');
		return render();
	}
	if (screen === signin && session.token) {
		history.replaceState(null, '', BASE + '/');
		return render();
	}
	// A password another admin set: nothing else until the admin picks their own.
	if (session.admin?.mustChangePassword && screen !== account && screen !== signin) {
		history.replaceState(null, '', BASE + '/account');
		return render();
	}
	const params = match ? match.slice(1).map(decodeURIComponent) : [];
	const ctx = {
		params,
		query: new URLSearchParams(location.search),
		admin: session.admin,
		navigate,
		announce,
		notice,
		onSignedIn,
	};
	notice = null;
	renderHeader(route ? route[2] : 'none');
	const key = path.replace(/\/$/, '');
	if (current && current.screen === screen && current.key === key && current.view.update) {
		current.view.update(ctx);
		return;
	}
	current?.view?.unmount?.();
	const first = current === null;
	if (!screen) {
		current = { screen: null, key, view: {} };
		replace(main, h('h1', { tabindex: '-1' }, t('nav.notFound')), h('p', null, h('a', { href: BASE + '/' }, t('nav.toOverview'))));
		return;
	}
	main.replaceChildren();
	ctx.focus = !first; // for a heading that comes after a fetch
	current = { screen, key, view: screen.mount(main, ctx) || {} };
	if (!first) {
		const h1 = main.querySelector('h1');
		if (h1) h1.focus({ preventScroll: false });
		window.scrollTo(0, 0);
	}
}

/** After signing in: back to where the admin was, else the overview; to two-step set-up when the server requires it first. */
function onSignedIn(token, admin, { mustEnrol = false } = {}) {
	session.set(token, admin);
	if (mustEnrol) {
		navigate(ENROL, { replace: true });
		return;
	}
	const back = session.returnTo;
	session.returnTo = null;
	const safe = back && back.startsWith(BASE + '/') && !back.startsWith(BASE + '/signin') && !back.startsWith('//') ? back : BASE + '/';
	navigate(safe, { replace: true });
}

// Links inside the app are handled here, without a page load.
document.addEventListener('click', (ev) => {
	if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
	const a = ev.target.closest('a[href]');
	if (!a || a.target || a.hasAttribute('download')) return;
	const href = a.getAttribute('href');
	if (href.startsWith('#')) {
		ev.preventDefault();
		const el = document.getElementById(href.slice(1));
		if (el) el.focus();
		return;
	}
	const u = new URL(a.href);
	if (u.origin !== location.origin || !u.pathname.startsWith(BASE + '/')) return;
	ev.preventDefault();
	navigate(u.pathname + u.search);
});

window.addEventListener('popstate', render);

// The role may have changed since this tab cached it: check in the background.
if (session.token) {
	gql('{ admin { id username role mustChangePassword } }')
		.then((d) => {
			if (!d.admin) sessionEnded();
			else if (JSON.stringify(d.admin) !== JSON.stringify(session.admin)) {
				session.set(session.token, d.admin);
				current?.view?.unmount?.();
				current = null; // re-render with the new role
				render();
			}
		})
		.catch(() => {});
}
render();
