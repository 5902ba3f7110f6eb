// values.mjs — valid values built from a schema, and the invalid variants
// derived from it. Everything here reads the schema only; whether a value is
// really valid (or really invalid) is then confirmed by ajv before it is
// sent, so a generator shortcut can never turn into a false pass.
import { randomUUID } from 'node:crypto';
import { ptrJoin } from './spec.mjs';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
let counter = 0;

// A schema with $ref followed and allOf folded in (enough for generation).
export function flatten(spec, ptr) {
	const { node, ptr: p } = spec.schemaAt(ptr);
	if (!node || typeof node !== 'object') return { s: node ?? {}, ptr: p, props: {}, required: [] };
	const out = { s: node, ptr: p, props: {}, required: [...(node.required ?? [])] };
	for (const [k] of Object.entries(node.properties ?? {})) out.props[k] = ptrJoin(p, 'properties', k);
	(node.allOf ?? []).forEach((_, i) => {
		const sub = flatten(spec, ptrJoin(p, 'allOf', i));
		Object.assign(out.props, sub.props);
		out.required.push(...sub.required);
		out.s = { ...sub.s, ...out.s, type: out.s.type ?? sub.s.type };
	});
	return out;
}

export function mainType(s) {
	let t = s.type;
	if (Array.isArray(t)) t = t.find((x) => x !== 'null') ?? 'null';
	if (!t) {
		if (s.properties || s.additionalProperties !== undefined) t = 'object';
		else if (s.items) t = 'array';
		else if (s.enum) t = typeof s.enum[0] === 'number' ? 'number' : typeof s.enum[0];
	}
	return t;
}

function uniqueString(min, max, mode) {
	const n = ++counter;
	if (mode === 'min' && min <= 1) return min === 0 ? '' : ALNUM[n % ALNUM.length];
	const want = mode === 'max' ? max : mode === 'min' ? min : Math.max(min, Math.min(max, 12));
	let v = `c${n.toString(36)}-`;
	if (v.length > want) v = ALNUM[n % ALNUM.length].repeat(want);
	return v + 'x'.repeat(Math.max(0, want - v.length));
}

function formatValue(fmt) {
	switch (fmt) {
	case 'uuid': return randomUUID();
	case 'date-time': return new Date().toISOString();
	case 'date': return new Date().toISOString().slice(0, 10);
	case 'time': return '12:00:00Z';
	case 'email': return `contract${++counter}@example.com`;
	case 'uri': case 'url': return `https://example.com/contract/${++counter}`;
	case 'hostname': return 'example.com';
	case 'ipv4': return '192.0.2.1';
	case 'ipv6': return '2001:db8::1';
	default: return undefined;
	}
}

function exampleOf(s) {
	if (s.example !== undefined) return s.example;
	if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
	return undefined;
}

// mode: 'min' (required only, smallest), 'typical', 'max' (everything, largest)
export function generate(spec, ptr, mode, depth = 0) {
	const f = flatten(spec, ptr);
	const s = f.s;
	if (depth > 8) return null;
	if (s.const !== undefined) return s.const;
	if (Array.isArray(s.enum) && s.enum.length) return mode === 'max' ? s.enum[s.enum.length - 1] : s.enum[0];
	for (const k of ['oneOf', 'anyOf']) if (Array.isArray(s[k]) && s[k].length) return generate(spec, ptrJoin(f.ptr, k, 0), mode, depth + 1);
	const t = mainType(s);
	switch (t) {
	case 'string': {
		const fv = formatValue(s.format);
		if (fv !== undefined) return fv;
		if (s.pattern) return exampleOf(s) ?? s.default;
		const min = s.minLength ?? 0, max = s.maxLength ?? Math.max(min, 40);
		return uniqueString(min, max, mode);
	}
	case 'integer': case 'number': {
		let lo = s.minimum ?? (typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : undefined);
		let hi = s.maximum ?? (typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum - 1 : undefined);
		if (s.exclusiveMinimum === true && lo !== undefined) lo += 1;
		if (s.exclusiveMaximum === true && hi !== undefined) hi -= 1;
		if (mode === 'min') return lo ?? 0;
		if (mode === 'max') return hi ?? 2147483647;
		const v = exampleOf(s) ?? s.default ?? 1;
		return Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, v));
	}
	case 'boolean': return mode !== 'min';
	case 'null': return null;
	case 'array': {
		const n = mode === 'min' ? (s.minItems ?? 0) : Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 1, 1));
		const items = [];
		for (let i = 0; i < n; i++) items.push(s.items ? generate(spec, ptrJoin(f.ptr, 'items'), mode, depth + 1) : 'x');
		return items;
	}
	case 'object': {
		const o = {};
		for (const [k, p] of Object.entries(f.props)) {
			const ps = flatten(spec, p).s;
			if (ps.readOnly) continue;
			if (mode === 'min' && !f.required.includes(k)) continue;
			const v = generate(spec, p, mode, depth + 1);
			if (v !== undefined) o[k] = v;
		}
		return o;
	}
	default:
		return exampleOf(s) ?? s.default ?? (mode === 'min' ? null : 'x');
	}
}

// A string the pattern refuses, or undefined when none of the candidates is.
function patternViolation(pattern, min, max) {
	let re;
	try { re = new RegExp(pattern, 'u'); } catch { return undefined; }
	const len = Math.max(min, Math.min(max, 3));
	for (const c of ['!'.repeat(len), ' '.repeat(len), '0'.repeat(len), 'a'.repeat(len), 'Z'.repeat(len), '_'.repeat(len)])
		if (!re.test(c)) return c;
	return undefined;
}

// Invalid variants of one value position: [{what, value}] (each must break
// the schema; the caller confirms with ajv).
export function violations(spec, ptr) {
	const f = flatten(spec, ptr);
	const s = f.s, t = mainType(s), out = [];
	const nullable = s.nullable === true || (Array.isArray(s.type) && s.type.includes('null'));
	const wrong = { string: 12345, integer: 'not-a-number', number: 'not-a-number', boolean: 'yes', array: 'not-an-array', object: 'not-an-object' };
	if (t in wrong) out.push({ what: `wrong type (${typeof wrong[t] === 'string' ? 'string' : 'number'} for ${t})`, value: wrong[t] });
	if (!nullable && t) out.push({ what: 'null', value: null });
	if (Array.isArray(s.enum)) out.push({ what: 'outside enum', value: t === 'string' ? 'not-in-enum' : 987654321 });
	if (s.const !== undefined) out.push({ what: 'not the const', value: t === 'string' ? 'not-the-const' : 987654321 });
	if (t === 'string') {
		if (typeof s.maxLength === 'number') out.push({ what: `one over maxLength ${s.maxLength}`, value: 'x'.repeat(s.maxLength + 1) });
		if (typeof s.minLength === 'number' && s.minLength > 0) out.push({ what: `under minLength ${s.minLength}${s.minLength === 1 ? ' (empty)' : ''}`, value: 'x'.repeat(s.minLength - 1) });
		if (s.pattern) {
			const v = patternViolation(s.pattern, s.minLength ?? 0, s.maxLength ?? 64);
			if (v !== undefined) out.push({ what: `not matching pattern ${s.pattern}`, value: v });
		}
		if (s.format && formatValue(s.format) !== undefined) out.push({ what: `not a ${s.format}`, value: `not-a-${s.format}` });
	}
	if (t === 'integer' || t === 'number') {
		if (typeof s.minimum === 'number') out.push({ what: `below minimum ${s.minimum}`, value: s.minimum - 1 });
		if (typeof s.maximum === 'number') out.push({ what: `above maximum ${s.maximum}`, value: s.maximum + 1 });
		if (t === 'integer') out.push({ what: 'a fraction', value: 1.5 });
	}
	return out;
}

// Invalid bodies derived from an object schema, recursively: [{what, body}].
export function bodyViolations(spec, ptr, base, path = '', depth = 0) {
	const out = [];
	const f = flatten(spec, ptr);
	if (mainType(f.s) !== 'object' || depth > 3 || base === null || typeof base !== 'object' || Array.isArray(base)) return out;
	const at = (p) => p || '/';
	for (const k of f.required) {
		const b = structuredClone(base);
		delete b[k];
		out.push({ what: `missing required ${at(path + '/' + k)}`, body: b });
	}
	if (f.s.additionalProperties === false) out.push({ what: `unknown field at ${at(path)} (additionalProperties false)`, body: { ...base, unexpected_field: 1 } });
	for (const [k, p] of Object.entries(f.props)) {
		if (flatten(spec, p).s.readOnly) continue;
		for (const v of violations(spec, p)) out.push({ what: `${at(path + '/' + k)}: ${v.what}`, body: { ...base, [k]: v.value } });
		const sub = base[k] ?? generate(spec, p, 'typical');
		for (const inner of bodyViolations(spec, p, sub, path + '/' + k, depth + 1)) out.push({ what: inner.what, body: { ...base, [k]: inner.body } });
	}
	return out;
}

// The JSON text of an object with a trailing comma, as people type it:
// {"name": "x", "description": "y",}
export function trailingComma(obj) {
	const parts = Object.entries(obj).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
	return `{${parts.join(', ')},}`;
}
