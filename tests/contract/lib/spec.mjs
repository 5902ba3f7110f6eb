// spec.mjs — one OpenAPI 3.0/3.1 document: loading, local $ref resolution,
// its operations, and the independent validator (ajv) over its schemas.
//
// The whole document is added to ajv under the key "spec"; every schema is
// then compiled as {$ref: "spec#<JSON pointer>"}, so $refs inside schemas
// resolve exactly as the document says. OpenAPI 3.0 schemas are draft-04
// with extensions (ajv-draft-04, whose `nullable` support is ajv's own);
// 3.1 schemas are JSON Schema 2020-12 (ajv's Ajv2020 class).
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import YAML from 'yaml';
import Ajv04 from 'ajv-draft-04';
import Ajv2020Mod from 'ajv/dist/2020.js';
import addFormatsMod from 'ajv-formats';

const Ajv2020 = Ajv2020Mod.default ?? Ajv2020Mod;
const addFormats = addFormatsMod.default ?? addFormatsMod;

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function ptrEscape(s) { return String(s).replace(/~/g, '~0').replace(/\//g, '~1'); }
export function ptrJoin(base, ...parts) { return base + parts.map((p) => '/' + ptrEscape(p)).join(''); }

function ptrGet(doc, ptr) {
	if (ptr === '' || ptr === '/') return doc;
	let node = doc;
	for (const raw of ptr.slice(1).split('/')) {
		const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
		if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
		node = node[key];
	}
	return node;
}

function loadFile(path) {
	let text;
	try { text = readFileSync(path, 'utf8'); } catch (e) { throw new Error(`${path}: cannot read: ${e.message}`); }
	try { return YAML.parse(text, { version: '1.2', uniqueKeys: true }); } catch (e) {
		throw new Error(`${path}: not YAML/JSON: ${e.message}`);
	}
}

// A document split over several files becomes one: every other file a
// $ref reaches is copied under /x-contract-files/<n> of the main document
// and its $refs are rewritten to local ones, so that both the runner and
// ajv see a single document.
function bundle(doc, mainPath) {
	const files = new Map([[mainPath, '']]);
	const queue = [[doc, mainPath]];
	const rewrite = (node, file) => {
		if (node === null || typeof node !== 'object') return;
		if (typeof node.$ref === 'string' && !node.$ref.startsWith('#')) {
			const [rel, frag = ''] = node.$ref.split('#');
			if (/^[a-z]+:/i.test(rel)) throw new Error(`${file}: $ref ${node.$ref}: only local files are supported`);
			const target = resolvePath(dirname(file), decodeURIComponent(rel));
			if (!files.has(target)) {
				const n = files.size - 1;
				files.set(target, ptrJoin('/x-contract-files', n));
				doc['x-contract-files'] ??= [];
				const loaded = loadFile(target);
				doc['x-contract-files'][n] = loaded;
				queue.push([loaded, target]);
			}
			node.$ref = '#' + files.get(target) + frag;
		} else if (typeof node.$ref === 'string' && file !== mainPath) {
			node.$ref = '#' + files.get(file) + node.$ref.slice(1);
		}
		for (const v of Object.values(node)) rewrite(v, file);
	};
	while (queue.length) {
		const [node, file] = queue.shift();
		rewrite(node, file);
	}
}

export class Spec {
	constructor(path) {
		this.path = path;
		this.doc = loadFile(path);
		bundle(this.doc, resolvePath(path));
		const v = String(this.doc?.openapi ?? '');
		if (!/^3\.[01]\./.test(v)) throw new Error(`${path}: /openapi: "${v}" is not OpenAPI 3.0 or 3.1`);
		this.is31 = v.startsWith('3.1');
		// one validator per direction: a readOnly property is never required
		// in a request, a writeOnly one never in a response (OpenAPI's rule)
		this.ajv = {};
		this.unknownFormats = new Set();
		const logger = {
			log() {},
			warn: (m) => { const f = /unknown format "([^"]*)"/.exec(String(m)); if (f) this.unknownFormats.add(f[1]); else console.error(m); },
			error: (m) => console.error(m),
		};
		const opts = { strict: false, allErrors: true, validateFormats: true, logger, code: { regExp: ecmaRegExp } };
		for (const dir of ['request', 'response']) {
			const ajv = this.is31 ? new Ajv2020(opts) : new Ajv04(opts);
			addFormats(ajv);
			const copy = withoutExamples(this.doc, undefined, this.is31);
			dropRequired(copy, copy, dir === 'request' ? 'readOnly' : 'writeOnly');
			ajv.addSchema(copy, 'spec');
			this.ajv[dir] = ajv;
		}
		this.validators = new Map();
		this.operations = this.collectOperations();
	}

	// The node at a local $ref chain's end, with its JSON pointer.
	resolve(node, ptr) {
		for (let hops = 0; node && typeof node === 'object' && typeof node.$ref === 'string'; hops++) {
			if (hops > 50) throw new Error(`${this.path}: ${ptr}: $ref cycle`);
			if (!node.$ref.startsWith('#')) throw new Error(`${this.path}: ${ptr}: only local $refs are supported here (${node.$ref})`);
			ptr = node.$ref.slice(1);
			node = ptrGet(this.doc, ptr);
			if (node === undefined) throw new Error(`${this.path}: ${ptr}: $ref target not found`);
		}
		return { node, ptr };
	}

	// Schema node (resolved through $ref, allOf merged for generation only).
	schemaAt(ptr) { return this.resolve(ptrGet(this.doc, ptr), ptr); }

	// ajv's verdict on a value against the schema at ptr: null or [messages].
	// dir: 'response' (what a server sends) or 'request' (what a client sends).
	validate(ptr, value, dir = 'response') {
		let v = this.validators.get(dir + ptr);
		if (!v) {
			try {
				v = this.ajv[dir].compile({ $ref: 'spec#' + ptr.split('/').map((s) => encodeURIComponent(s).replace(/%7E/gi, '~')).join('/') });
			} catch (e) {
				const msg = `ajv cannot compile the schema at ${ptr}: ${e.message}`;
				v = () => false;
				v.errors = [{ instancePath: '', message: msg, schemaPath: ptr }];
			}
			this.validators.set(dir + ptr, v);
		}
		if (v(value)) return null;
		return v.errors.map((e) => `${e.instancePath || '/'}: ${e.message}${e.params && e.params.allowedValues ? ' ' + JSON.stringify(e.params.allowedValues) : ''} (${e.schemaPath})`);
	}

	basePath(override) {
		if (override !== undefined) return override.replace(/\/+$/, '');
		const url = this.doc.servers?.[0]?.url ?? '/';
		const path = /^[a-z]+:\/\//i.test(url) ? new URL(url).pathname : url;
		return path.replace(/\/+$/, '');
	}

	collectOperations() {
		const ops = [];
		const paths = this.doc.paths ?? {};
		for (const [path, rawItem] of Object.entries(paths)) {
			const itemPtr = ptrJoin('/paths', path);
			const { node: item, ptr: ip } = this.resolve(rawItem, itemPtr);
			for (const method of METHODS) {
				if (!item[method]) continue;
				const op = item[method];
				const opPtr = ptrJoin(ip, method);
				const params = new Map();
				for (const [list, lp] of [[item.parameters, ptrJoin(ip, 'parameters')], [op.parameters, ptrJoin(opPtr, 'parameters')]]) {
					(list ?? []).forEach((p, i) => {
						const r = this.resolve(p, ptrJoin(lp, i));
						params.set(r.node.in + ':' + r.node.name, { ...r.node, ptr: r.ptr, schemaPtr: r.node.schema ? ptrJoin(r.ptr, 'schema') : null });
					});
				}
				let body = null;
				if (op.requestBody) {
					const r = this.resolve(op.requestBody, ptrJoin(opPtr, 'requestBody'));
					const content = r.node.content ?? {};
					const mt = Object.keys(content).find(isJsonType) ?? Object.keys(content)[0];
					body = { required: !!r.node.required, mediaType: mt, types: Object.keys(content),
						media: mt ? content[mt] : null, schemaPtr: mt && content[mt].schema ? ptrJoin(r.ptr, 'content', mt, 'schema') : null };
				}
				const responses = {};
				for (const [code, raw] of Object.entries(op.responses ?? {})) {
					const r = this.resolve(raw, ptrJoin(opPtr, 'responses', code));
					responses[code] = { ...r.node, ptr: r.ptr };
				}
				ops.push({
					id: op.operationId ?? `${method.toUpperCase()} ${path}`,
					method: method.toUpperCase(), path, ptr: opPtr, op,
					params: [...params.values()], body, responses,
					security: op.security ?? this.doc.security ?? [],
				});
			}
		}
		return ops;
	}

	// The response object documented for status (exact, then 4XX, then default).
	responseFor(op, status) {
		const s = String(status);
		return op.responses[s] ?? op.responses[s[0] + 'XX'] ?? op.responses[s[0] + 'xx'] ?? op.responses.default ?? null;
	}

	documentedStatuses(op) { return Object.keys(op.responses); }

	securityScheme(name) {
		const raw = this.doc.components?.securitySchemes?.[name];
		return raw ? this.resolve(raw, ptrJoin('/components/securitySchemes', name)).node : null;
	}
}

// A copy without example/examples members (annotations that never affect
// validation): draft-04 reads any "id" member as a schema id, and example
// objects such as {id: "9a4d..."} would otherwise collide. Names under
// properties-like maps are kept whatever they are called.
const NAME_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs', 'schemas', 'responses',
	'parameters', 'headers', 'content', 'paths', 'securitySchemes', 'requestBodies', 'links', 'callbacks', 'dependentSchemas']);
// Also drops `nullable` where it means nothing: in 3.1 (not a keyword
// there) and, in 3.0, beside no `type` (ajv refuses that combination).
function withoutExamples(node, parentKey, is31) {
	if (Array.isArray(node)) return node.map((x) => withoutExamples(x, undefined, is31));
	if (node === null || typeof node !== 'object') return node;
	const out = {};
	const names = NAME_MAPS.has(parentKey);
	for (const [k, v] of Object.entries(node)) {
		if (!names && (k === 'example' || k === 'examples')) continue;
		if (!names && k === 'nullable' && (is31 || node.type === undefined)) continue;
		out[k] = withoutExamples(v, k, is31);
	}
	return out;
}

// ECMA-262 patterns as JSON Schema means them: with the u flag where the
// pattern allows it, else without (e.g. a lone "{" is an error only with u).
function ecmaRegExp(pattern, flags) {
	try { return new RegExp(pattern, flags); } catch (e) {
		if (!flags.includes('u')) throw e;
		return new RegExp(pattern, flags.replace('u', ''));
	}
}
ecmaRegExp.code = 'ecmaRegExp';

// Removes from every `required` list the properties whose schema (through
// local $refs) carries flag: true.
function dropRequired(root, node, flag, seen = new Set()) {
	if (node === null || typeof node !== 'object' || seen.has(node)) return;
	seen.add(node);
	if (Array.isArray(node.required) && node.properties && typeof node.properties === 'object') {
		node.required = node.required.filter((k) => {
			let p = node.properties[k];
			for (let i = 0; p && typeof p.$ref === 'string' && p.$ref.startsWith('#') && i < 20; i++) p = ptrGet(root, p.$ref.slice(1));
			return !(p && p[flag] === true);
		});
	}
	for (const v of Object.values(node)) dropRequired(root, v, flag, seen);
}

export function isJsonType(mt) {
	const m = String(mt).split(';')[0].trim().toLowerCase();
	return m === 'application/json' || m.endsWith('+json');
}

export function mediaMatches(documented, got) {
	const d = documented.split(';')[0].trim().toLowerCase();
	const g = String(got ?? '').split(';')[0].trim().toLowerCase();
	if (d === '*/*') return g !== '';
	if (d.endsWith('/*')) return g.startsWith(d.slice(0, -1));
	return d === g;
}
