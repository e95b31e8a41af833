// The GraphQL client and the admin session. The token lives in this tab's
// sessionStorage (or only in memory where that is unavailable): never in
// localStorage, a cookie or a URL.

function storage() {
	try {
		const st = window.sessionStorage;
		st.getItem('x');
		return st;
	} catch {
		return null; // storage blocked: memory only, the session ends with the page
	}
}
const st = storage();
const mem = new Map();
const get = (k) => (st ? st.getItem('wxadmin.' + k) : mem.get(k) ?? null);
const put = (k, v) => (v == null ? (st ? st.removeItem('wxadmin.' + k) : mem.delete(k)) : st ? st.setItem('wxadmin.' + k, v) : mem.set(k, v));

export const session = {
	get token() {
		return get('token');
	},
	/** The signed-in admin ({id, username, role}) as last seen, or null. */
	get admin() {
		try {
			return JSON.parse(get('admin'));
		} catch {
			return null;
		}
	},
	set(token, admin) {
		put('token', token);
		put('admin', admin && JSON.stringify(admin));
	},
	clear() {
		this.set(null, null);
	},
	/** Where to go after signing in. */
	get returnTo() {
		return get('return');
	},
	set returnTo(v) {
		put('return', v);
	},
};

/**
 * An error the dashboard can explain by its code (ui.js explain(), the
 * catalogues' error.<code>): the server's extensions.code, or NETWORK,
 * HTTP (status) and UNKNOWN from here. The message is the server's, in
 * English, or empty.
 */
export class ApiError extends Error {
	constructor(message, code, ext = {}) {
		super(message);
		this.code = code;
		this.status = ext.status;
		this.retryAfter = typeof ext.retryAfter === 'number' ? ext.retryAfter : null;
		this.requestId = typeof ext.requestId === 'string' ? ext.requestId : null;
	}
}

let onUnauthenticated = () => {};
/** Sets what happens when any call finds the admin session gone. */
export function setUnauthenticatedHandler(fn) {
	onUnauthenticated = fn;
}

/**
 * Runs a GraphQL operation and returns its data, or throws an ApiError.
 * Cookies are left out, except where a call asks for them: sign-in sends
 * and receives the device cookie that keeps strangers' wrong guesses from
 * locking this browser's admin out.
 */
export async function gql(query, variables = {}, { signal, credentials = 'omit' } = {}) {
	const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
	const token = session.token;
	if (token) headers.Authorization = 'Bearer ' + token;
	let res;
	try {
		res = await fetch('/graphql', {
			method: 'POST',
			headers,
			body: JSON.stringify({ query, variables }),
			signal,
			credentials,
			cache: 'no-store',
		});
	} catch (e) {
		if (e.name === 'AbortError') throw e;
		throw new ApiError('', 'NETWORK');
	}
	let body;
	try {
		body = await res.json();
	} catch (e) {
		if (e.name === 'AbortError') throw e;
		throw new ApiError('', 'HTTP', { status: res.status });
	}
	if (body.errors && body.errors.length) {
		const e = body.errors[0];
		const ext = e.extensions || {};
		const err = new ApiError(e.message || '', ext.code || 'UNKNOWN', ext);
		if (err.code === 'UNAUTHENTICATED' && token) onUnauthenticated(err);
		throw err;
	}
	if (!body.data) throw new ApiError('', 'HTTP', { status: res.status });
	return body.data;
}
