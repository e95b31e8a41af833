// A tiny DOM helper. Strings always become text nodes: nothing here, or
// anywhere in the dashboard, parses a string as markup, so text from the
// database (a nickname, a user agent) can only ever be text.

const SVG_NS = 'http://www.w3.org/2000/svg';
// Properties set on the element rather than as attributes.
const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'open']);

function setProps(el, props) {
	if (!props) return;
	for (const [k, v] of Object.entries(props)) {
		if (v == null || v === false) continue;
		if (k.startsWith('on') && typeof v === 'function') {
			el.addEventListener(k.slice(2).toLowerCase(), v);
		} else if (k === 'class') {
			el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
		} else if (k === 'style') {
			// Through the CSSOM only: the CSP refuses style attributes.
			Object.assign(el.style, v);
		} else if (k === 'dataset') {
			Object.assign(el.dataset, v);
		} else if (k === 'ref') {
			v(el);
		} else if (PROPS.has(k)) {
			el[k] = v;
		} else {
			el.setAttribute(k, v === true ? '' : String(v));
		}
	}
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, ...children) {
	for (const c of children.flat(Infinity)) {
		if (c == null || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

/** h('a', {href: '/x', onClick: fn}, 'text', child) builds an HTML element. */
export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	setProps(el, props);
	return append(el, children);
}

/** s('rect', {x: 1}) builds an SVG element. */
export function s(tag, props, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	setProps(el, props);
	return append(el, children);
}

/** Replaces el's children. */
export function replace(el, ...children) {
	el.replaceChildren();
	return append(el, children);
}

export function debounce(fn, ms) {
	let t;
	const d = (...args) => {
		clearTimeout(t);
		t = setTimeout(() => fn(...args), ms);
	};
	d.cancel = () => clearTimeout(t);
	return d;
}
