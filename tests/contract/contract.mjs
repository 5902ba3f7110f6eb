#!/usr/bin/env node
// contract.mjs — contract tests of a running server against its OpenAPI
// document. Everything comes from the document: operations, parameters,
// bodies, examples, documented statuses, headers and schemas. See README.md
// ("Contract tests") for the rules; `--help` for the options.
import { readFileSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomInt } from 'node:crypto';
import { Spec, isJsonType, mediaMatches, ptrJoin } from './lib/spec.mjs';
import { generate, violations, bodyViolations, trailingComma, flatten, mainType } from './lib/values.mjs';
import { send } from './lib/http.mjs';

const USAGE = `usage: contract.mjs --spec FILE --url URL [options]
  --spec FILE            the OpenAPI 3.0/3.1 document (YAML or JSON)
  --url URL              the server, e.g. https://localhost:8443 (the document's
                         servers[0] path is appended unless --base is given)
  --base PATH            the API's base path on that server
  --credential VALUE     the credential for every security scheme (API key,
                         bearer token, or user:password for basic)
  --credential-cmd CMD   run CMD (sh -c) to obtain the credential
  --other-credential V   a second principal's credential: its requests for
                         the first one's resources must get a documented 4xx
  --cacert FILE          trust this CA/certificate for HTTPS
  --insecure             do not verify the server's certificate
  --checker PROG         also pipe every response to PROG, a checker built from
                         oapigen output (make contract builds one)
  --name NAME            the API's name in the report (default: the file name)
  --max-body BYTES       the server's body limit, for the oversized case (65536)
  --tolerate CODES       comma-separated 4xx statuses accepted on invalid
                         requests even where the document does not list them
  --verbose              print every case, not just failures`;

function parseArgs(argv) {
	const o = { maxBody: 65536, tolerate: [], verbose: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const val = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); return argv[++i]; };
		switch (a) {
		case '--spec': o.spec = val(); break;
		case '--url': o.url = val().replace(/\/+$/, ''); break;
		case '--base': o.base = val(); break;
		case '--credential': o.credential = val(); break;
		case '--credential-cmd': o.credentialCmd = val(); break;
		case '--other-credential': o.otherCredential = val(); break;
		case '--cacert': o.cacert = val(); break;
		case '--insecure': o.insecure = true; break;
		case '--checker': o.checker = val(); break;
		case '--name': o.name = val(); break;
		case '--max-body': o.maxBody = Number(val()); break;
		case '--tolerate': o.tolerate = val().split(',').filter(Boolean).map(Number); break;
		case '--verbose': o.verbose = true; break;
		case '-h': case '--help': console.log(USAGE); process.exit(0); break;
		default: die(`unknown option ${a}\n${USAGE}`);
		}
	}
	if (!o.spec || !o.url) die(USAGE);
	if (!/^https?:\/\//.test(o.url)) die(`--url ${o.url}: must start with http:// or https://`);
	if (!Number.isInteger(o.maxBody) || o.maxBody < 1) die('--max-body: a positive number of bytes');
	return o;
}

function die(msg) { console.error(msg); process.exit(2); }

// ---- the checker built from oapigen output (one JSON line each way) ----
class Checker {
	constructor(prog) {
		this.proc = spawn(prog, [], { stdio: ['pipe', 'pipe', 'inherit'] });
		this.waiting = [];
		this.proc.on('error', (e) => { for (const w of this.waiting.splice(0)) w.reject(e); });
		this.proc.on('exit', (code) => { for (const w of this.waiting.splice(0)) w.reject(new Error(`checker exited (${code})`)); });
		createInterface({ input: this.proc.stdout }).on('line', (line) => {
			const w = this.waiting.shift();
			if (!w) return;
			try { w.resolve(JSON.parse(line)); } catch (e) { w.reject(new Error(`checker said: ${line}`)); }
		});
	}
	check(opId, status, contentType, body) {
		return new Promise((resolve, reject) => {
			this.waiting.push({ resolve, reject });
			this.proc.stdin.write(JSON.stringify({ operation: opId, status, content_type: contentType ?? null,
				body: body.length ? body.toString('utf8') : null }) + '\n');
		});
	}
	close() { this.proc.stdin.end(); }
}

// ---- the runner ----
class Runner {
	constructor(o) {
		this.o = o;
		this.spec = new Spec(o.spec);
		this.name = o.name ?? o.spec.replace(/.*\//, '').replace(/\.[^.]*$/, '');
		this.base = o.url + this.spec.basePath(o.base);
		this.ca = o.cacert ? readFileSync(o.cacert) : undefined;
		this.credential = o.credential;
		if (o.credentialCmd) this.credential = execFileSync('sh', ['-c', o.credentialCmd], { encoding: 'utf8' }).trim();
		this.checker = o.checker ? new Checker(o.checker) : null;
		this.pass = 0; this.fail = 0; this.skipped = [];
		this.exercised = new Map(this.spec.operations.map((op) => [op.id, { requests: 0, successes: 0 }]));
		this.created = new Map();   // collection path -> {values: {name: value}, consumed}
		this.pool = [];             // every scalar seen in a 2xx body, newest first: {name, value}
		this.links = new Map();     // operationId -> {param: value}
		const host = new URL(o.url).hostname;
		this.loopback4 = host === 'localhost' || /^127\./.test(host);
		// a random start, so that runs one after another (one per document)
		// do not send their bad credentials from the same addresses
		this.nextAddr = randomInt(1 << 22);
	}

	// ---- requests ----
	collectionOf(op) {
		const i = op.path.search(/\/\{[^}]+\}/);
		return i < 0 ? op.path : op.path.slice(0, i) || '/';
	}

	createOp(collection) {
		return this.spec.operations.find((op) => op.method === 'POST' && op.path === collection && op.body);
	}

	// Credentials for the first security alternative: {headers, query}
	credentialFor(op, value) {
		const out = { headers: {}, query: [] };
		const alt = op.security[0];
		if (!alt || value === null) return out;
		for (const name of Object.keys(alt)) {
			const s = this.spec.securityScheme(name);
			if (!s) continue;
			if (s.type === 'apiKey') {
				if (s.in === 'header') out.headers[s.name] = value;
				else if (s.in === 'query') out.query.push([s.name, value]);
				else if (s.in === 'cookie') out.headers.Cookie = `${s.name}=${value}`;
			} else if (s.type === 'http' && /^bearer$/i.test(s.scheme)) out.headers.Authorization = `Bearer ${value}`;
			else if (s.type === 'http' && /^basic$/i.test(s.scheme)) out.headers.Authorization = `Basic ${Buffer.from(value).toString('base64')}`;
			else if (s.type === 'oauth2' || s.type === 'openIdConnect') out.headers.Authorization = `Bearer ${value}`;
		}
		return out;
	}

	needsCredential(op) { return op.security.length > 0 && !op.security.some((alt) => Object.keys(alt).length === 0); }

	async request(op, { pathValues, query = [], headers = {}, body = null, credential = this.credential, localAddress }) {
		const enc = (v) => (v && typeof v === 'object' && 'raw' in v ? v.raw : encodeURIComponent(String(v)));
		const path = op.path.replace(/\{([^}]+)\}/g, (_, n) => enc(pathValues[n]));
		const cred = this.credentialFor(op, credential ?? null);
		const q = [...query, ...cred.query].map(([k, v]) => `${encodeURIComponent(k)}=${enc(v)}`).join('&');
		const url = this.base + path + (q ? '?' + q : '');
		const res = await send(url, { method: op.method, headers: { ...cred.headers, ...headers }, body,
			ca: this.ca, insecure: this.o.insecure, localAddress });
		res.url = url;
		return res;
	}

	// ---- checking one response against the document ----
	// tolerated: an undocumented 4xx accepted by --tolerate (its body cannot
	// be checked: the document says nothing about it).
	async checkResponse(op, res, tolerated = false) {
		const problems = [];
		const status = res.status;
		if (status >= 500) problems.push(`${status}: a server error`);
		const r = this.spec.responseFor(op, status);
		if (!r && !tolerated) problems.push(`status ${status} is not documented for ${op.id} (documented: ${this.spec.documentedStatuses(op).join(', ')})`);
		const ctype = res.headers['content-type'];
		let json;
		if (r) {
			const content = r.content ?? {};
			const types = Object.keys(content);
			if (types.length && res.body.length === 0 && op.method !== 'HEAD') problems.push(`${status}: the document gives a body (${types.join(', ')}), none was sent`);
			if (!types.length && res.body.length) problems.push(`${status}: the document gives no body, ${res.body.length} bytes were sent`);
			if (types.length && res.body.length) {
				const mt = types.find((t) => mediaMatches(t, ctype));
				if (!mt) problems.push(`${status}: Content-Type ${ctype ?? '(none)'} is not one of ${types.join(', ')}`);
				else if (isJsonType(mt)) {
					try { json = JSON.parse(res.body.toString('utf8')); } catch (e) { problems.push(`${status}: body is not JSON: ${e.message}`); }
					if (json !== undefined && content[mt].schema) {
						const errs = this.spec.validate(ptrJoin(r.ptr, 'content', mt, 'schema'), json);
						if (errs) problems.push(`${status}: ajv: body violates the document: ${errs.slice(0, 3).join('; ')}`);
					}
				}
			}
			for (const [hname, raw] of Object.entries(r.headers ?? {})) {
				if (/^content-type$/i.test(hname)) continue;
				const h = this.spec.resolve(raw, ptrJoin(r.ptr, 'headers', hname));
				const got = res.headers[hname.toLowerCase()];
				if (got === undefined) {
					if (h.node.required || /^location$/i.test(hname)) problems.push(`${status}: header ${hname} is documented${h.node.required ? ' as required' : ''} and missing`);
					continue;
				}
				if (h.node.schema) {
					const sch = flatten(this.spec, ptrJoin(h.ptr, 'schema')).s;
					const t = mainType(sch);
					const v = (t === 'integer' || t === 'number') && /^-?\d+(\.\d+)?$/.test(got) ? Number(got) : got;
					const errs = this.spec.validate(ptrJoin(h.ptr, 'schema'), v);
					if (errs) problems.push(`${status}: ajv: header ${hname}: ${got}: ${errs[0]}`);
				}
			}
		}
		if (this.checker && !(tolerated && !r)) {
			try {
				const verdict = await this.checker.check(op.id, status, ctype, res.body);
				for (const e of verdict.errors ?? []) problems.push(`${status}: oapigen checker: ${e.pointer || '/'}: ${e.keyword}: ${e.message}`);
			} catch (e) { problems.push(`checker: ${e.message}`); }
		}
		return { problems, json };
	}

	record(name, ok, problems, res) {
		const line = `${this.name} ${name}${res ? ` -> ${res.status}` : ''}`;
		if (ok) { this.pass++; if (this.o.verbose) console.log(`ok    ${line}`); return; }
		this.fail++;
		console.log(`FAIL  ${line}`);
		for (const p of problems) console.log(`      ${p}`);
		if (res && res.body.length) console.log(`      body: ${res.body.toString('utf8').slice(0, 300)}`);
	}

	// expect: 'success' (a documented 2xx), 'client-error' (a documented 4xx)
	// or 'any-documented' (the path could not be bound to existing state:
	// any documented status below 500).
	async run(op, name, req, expect) {
		let res;
		try { res = await this.request(op, req); } catch (e) {
			this.record(`${op.id}: ${name}`, false, [`request failed: ${e.message}`]);
			return null;
		}
		const ok2xx = res.status >= 200 && res.status < 300;
		const tolerated = expect === 'client-error' && this.o.tolerate.includes(res.status);
		const { problems, json } = await this.checkResponse(op, res, tolerated);
		if (expect === 'success' && !ok2xx) problems.push(`expected a documented 2xx, got ${res.status}`);
		if (expect === 'client-error' && !(res.status >= 400 && res.status < 500)) problems.push(`expected a documented 4xx, got ${res.status}`);
		const e = this.exercised.get(op.id);
		e.requests++;
		if (ok2xx && problems.length === 0) e.successes++;
		this.record(`${op.id}: ${name}`, problems.length === 0, problems, res);
		if (ok2xx) this.learn(op, req, res, json);
		return res;
	}

	// ---- state: what later requests may refer to ----
	learn(op, req, res, json) {
		const flat = {};
		const walk = (v, depth) => {
			if (depth > 6 || v === null || typeof v !== 'object') return;
			for (const [k, x] of Object.entries(v)) {
				if (x !== null && typeof x === 'object') walk(x, depth + 1);
				else if (!(k in flat)) flat[k] = x;
			}
		};
		walk(json, 0);
		const coll = this.collectionOf(op);
		if (op.method === 'POST' && op.path === coll && json !== undefined) this.created.set(coll, { values: flat, consumed: false });
		if (op.method === 'DELETE') {
			const c = this.created.get(coll);
			if (c && Object.values(req.pathValues ?? {}).some((v) => Object.values(c.values).includes(v))) c.consumed = true;
			for (const [, b] of this.links) for (const [k, v] of Object.entries(b)) if (Object.values(req.pathValues ?? {}).includes(v)) delete b[k];
		}
		for (const [k, v] of Object.entries(flat)) this.pool.unshift({ name: k, value: v });
		// OpenAPI links: $response.body#/ptr, $response.header.X, $request.path.x, constants
		const r = this.spec.responseFor(op, res.status);
		for (const link of Object.values(r?.links ?? {})) {
			const l = this.spec.resolve(link, '').node;
			if (!l.operationId) continue;
			const b = this.links.get(l.operationId) ?? {};
			for (const [p, expr] of Object.entries(l.parameters ?? {})) {
				const v = this.evalLink(expr, req, res, json);
				if (v !== undefined) b[p.replace(/^(path|query|header|cookie)\./, '')] = v;
			}
			this.links.set(l.operationId, b);
		}
	}

	evalLink(expr, req, res, json) {
		if (typeof expr !== 'string' || !expr.startsWith('$')) return expr;
		let m;
		if ((m = /^\$response\.body#(.*)$/.exec(expr))) {
			let v = json;
			for (const seg of m[1].split('/').slice(1)) v = v?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
			return v;
		}
		if ((m = /^\$response\.header\.(.+)$/.exec(expr))) return res.headers[m[1].toLowerCase()];
		if ((m = /^\$request\.path\.(.+)$/.exec(expr))) return req.pathValues?.[m[1]];
		return undefined;
	}

	// Candidate property names for a parameter: its own name, then its last
	// word (key_id -> id, api_key_name -> name, keyId -> id).
	namesFor(pname) {
		const words = pname.replace(/([a-z0-9])([A-Z])/g, '$1_$2').split(/[_\-.]/).filter(Boolean);
		const last = words[words.length - 1]?.toLowerCase();
		return [...new Set([pname, last].filter(Boolean))];
	}

	fits(p, v) { return p.schemaPtr ? this.spec.validate(p.schemaPtr, v, 'request') === null : true; }

	// A value for a parameter from state, or undefined. See README for the order.
	fromState(op, p) {
		const link = this.links.get(op.id);
		if (link && p.name in link && this.fits(p, link[p.name])) return link[p.name];
		const c = this.created.get(this.collectionOf(op));
		for (const n of this.namesFor(p.name)) {
			if (c && !c.consumed && n in c.values && this.fits(p, c.values[n])) return c.values[n];
		}
		if (p.in === 'path' && this.createOp(this.collectionOf(op))) return undefined;
		for (const n of this.namesFor(p.name))
			for (const e of this.pool) if (e.name === n && this.fits(p, e.value)) return e.value;
		return undefined;
	}

	// Make sure the resource a path refers to exists (create it through the
	// collection's POST when nothing unconsumed is known).
	async ensureState(op) {
		if (!op.params.some((p) => p.in === 'path')) return;
		const coll = this.collectionOf(op);
		const c = this.created.get(coll);
		const create = this.createOp(coll);
		if (create && (!c || c.consumed)) {
			const body = generate(this.spec, create.body.schemaPtr, 'typical');
			await this.run(create, `setup for ${op.id}: valid body ${JSON.stringify(body).slice(0, 60)}`,
				this.bodyRequest(create, { body: JSON.stringify(body) }), 'success');
		}
	}

	paramValue(op, p, mode) {
		const st = this.fromState(op, p);
		if (st !== undefined) return { value: st, bound: true };
		if (p.example !== undefined && mode === 'typical') return { value: p.example, bound: false };
		const ex = p.examples && Object.values(p.examples)[0];
		if (ex && ex.value !== undefined && mode === 'typical') return { value: ex.value, bound: false };
		if (!p.schemaPtr) return { value: 'x', bound: false };
		return { value: generate(this.spec, p.schemaPtr, mode === 'min' ? 'min' : mode), bound: false };
	}

	// Path, query and header values; optional ones only when `optional`.
	buildParams(op, mode, optional) {
		const pathValues = {}, query = [], headers = {};
		let unbound = false;
		for (const p of op.params) {
			if (!p.required && !optional) continue;
			const { value, bound } = this.paramValue(op, p, mode);
			if (p.in === 'path' && !bound) unbound = true;
			if (p.in === 'path') pathValues[p.name] = value;
			else if (p.in === 'query') (Array.isArray(value) ? value : [value]).forEach((v) => query.push([p.name, v]));
			else if (p.in === 'header') headers[p.name] = String(value);
			else if (p.in === 'cookie') headers.Cookie = `${p.name}=${value}`;
		}
		return { pathValues, query, headers, unbound };
	}

	bodyRequest(op, { body, contentType = op.body.mediaType, mode = 'typical', extra = {} }) {
		const r = this.buildParams(op, mode, true);
		const headers = { ...r.headers, ...extra };
		if (contentType !== null) headers['Content-Type'] = contentType;
		return { pathValues: r.pathValues, query: r.query, headers, body, unbound: r.unbound };
	}

	// A fresh loopback source address (127.1.0.1 .. 127.64.255.254), or
	// undefined when the server is not on IPv4 loopback.
	nextSource() {
		if (!this.loopback4) return undefined;
		const n = this.nextAddr++ % (1 << 22);
		return `127.${1 + (n >> 16)}.${(n >> 8) & 255}.${1 + ((n & 255) % 254)}`;
	}

	// ---- the cases of one operation ----
	async valid(op) {
		const expect = 'success';
		if (op.body && op.body.schemaPtr && isJsonType(op.body.mediaType)) {
			const media = op.body.media;
			const examples = [];
			if (media.example !== undefined) examples.push(['documented example', media.example]);
			for (const [k, e] of Object.entries(media.examples ?? {})) {
				const ex = this.spec.resolve(e, '').node;
				if (ex.value !== undefined) examples.push([`documented example "${k}"`, ex.value]);
			}
			const sch = this.spec.schemaAt(op.body.schemaPtr).node;
			if (!examples.length && sch.example !== undefined) examples.push(['schema example', sch.example]);
			const bodies = [...examples,
				['valid body, required fields only, smallest values', generate(this.spec, op.body.schemaPtr, 'min')],
				['valid body, every field', generate(this.spec, op.body.schemaPtr, 'typical')],
				['valid body, every field at its largest', generate(this.spec, op.body.schemaPtr, 'max')]];
			const seen = new Set();
			for (const [what, b] of bodies) {
				const text = JSON.stringify(b);
				if (seen.has(text)) continue;
				seen.add(text);
				const errs = this.spec.validate(op.body.schemaPtr, b, 'request');
				if (errs) { this.skipped.push(`${op.id}: ${what}: not valid by the document itself (${errs[0]})`); continue; }
				await this.ensureState(op);
				const req = this.bodyRequest(op, { body: text });
				await this.run(op, `${what} ${text.length > 70 ? text.slice(0, 67) + '...' : text}`, req, this.expectFor(req));
			}
			return;
		}
		if (op.body && op.body.required) {
			// only JSON bodies are built; the operation will be reported as
			// never answering a 2xx, with this note
			this.skipped.push(`${op.id}: no valid request: bodies of ${op.body.types.join(', ')}${op.body.schemaPtr ? '' : ' without a schema'} are not generated`);
			return;
		}
		const optional = op.params.filter((p) => !p.required);
		const variants = [['required parameters only', 'typical', false]];
		if (optional.length) {
			variants.push(['every parameter', 'typical', true], ['every parameter at its smallest', 'min', true], ['every parameter at its largest', 'max', true]);
		}
		const sent = new Set();
		for (const [what, mode, opt] of variants) {
			await this.ensureState(op);
			const r = this.buildParams(op, mode, opt);
			const key = JSON.stringify([r.pathValues, r.query, r.headers]);
			if (sent.has(key)) continue;
			sent.add(key);
			const bad = op.params.find((p) => (p.required || opt) && p.schemaPtr && !p.in.startsWith('path') &&
				[...r.query, ...Object.entries(r.headers)].some(([k, v]) => k === p.name && !this.fits(p, coerce(p, this.spec, v))));
			if (bad) { this.skipped.push(`${op.id}: ${what}: no valid value for ${bad.name}`); continue; }
			const desc = `${what}${r.query.length ? ' ?' + r.query.map(([k, v]) => `${k}=${v}`).join('&') : ''}`;
			await this.run(op, desc, { ...r }, r.unbound ? 'any-documented' : expect);
		}
	}

	expectFor(req) { return req.unbound ? 'any-documented' : 'success'; }

	async invalid(op) {
		const E = 'client-error';
		await this.ensureState(op);
		const baseParams = () => this.buildParams(op, 'typical', false);
		// credentials
		if (this.needsCredential(op) && this.credential) {
			await this.run(op, 'missing credential', { ...baseParams(), ...this.minimalBody(op), credential: null, localAddress: this.nextSource() }, E);
			const c = this.credential;
			const wrong = c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A');
			await this.run(op, 'wrong credential (last character changed)', { ...baseParams(), ...this.minimalBody(op), credential: wrong, localAddress: this.nextSource() }, E);
		}
		// parameters
		for (const p of op.params) {
			if (!p.schemaPtr) continue;
			const ps = flatten(this.spec, p.schemaPtr).s, t = mainType(ps);
			const extra = [];
			// bytes that are not UTF-8 (only a URL can carry them), and an
			// integer past the documented format (ajv-formats accepts any
			// integer as int64, so this one is not asked of ajv)
			if (t === 'string' && (p.in === 'path' || p.in === 'query')) extra.push({ what: 'invalid UTF-8 (%FF%FE)', value: { raw: 'a%FF%FEb' }, force: true });
			if (t === 'integer' && /^int(32|64)$/.test(ps.format ?? '')) extra.push({ what: `past ${ps.format} (99999999999999999999)`, value: '99999999999999999999', force: true });
			else if (t === 'integer') extra.push({ what: 'past int64 (99999999999999999999)', value: '99999999999999999999' });
			for (const v of [...violations(this.spec, p.schemaPtr), ...extra]) {
				if (v.value === null) continue;                 // not expressible in a URL
				if (typeof v.value === 'number' && mainType(flatten(this.spec, p.schemaPtr).s) === 'string') continue; // "12345" is a string in a URL
				if (p.in === 'path' && String(v.value) === '') continue; // changes the route
				if (!v.force && this.spec.validate(p.schemaPtr, coerce(p, this.spec, String(v.value)), 'request') === null) continue;
				const r = baseParams();
				if (p.in === 'path') r.pathValues[p.name] = v.value;
				else if (p.in === 'query') { r.query = r.query.filter(([k]) => k !== p.name); r.query.push([p.name, v.value]); }
				else if (p.in === 'header') r.headers[p.name] = String(v.value);
				else continue;
				await this.run(op, `${p.in} parameter ${p.name}: ${v.what}`, { ...r, ...this.minimalBody(op) }, E);
			}
			if (p.required && p.in === 'query') {
				const r = baseParams();
				r.query = r.query.filter(([k]) => k !== p.name);
				await this.run(op, `missing required query parameter ${p.name}`, { ...r, ...this.minimalBody(op) }, E);
			}
			if (p.in === 'path' && this.fromState(op, p) !== undefined) {
				const r = baseParams();
				const fresh = generate(this.spec, p.schemaPtr, 'max');
				if (this.fits(p, fresh)) {
					r.pathValues[p.name] = fresh;
					await this.run(op, `path parameter ${p.name}: valid but unknown (${String(fresh).slice(0, 40)})`, { ...r, ...this.minimalBody(op) }, E);
				}
				if (this.o.otherCredential && this.needsCredential(op))
					await this.run(op, `path parameter ${p.name}: another principal's resource`,
						{ ...baseParams(), ...this.minimalBody(op), credential: this.o.otherCredential }, E);
			}
		}
		if (!op.body) return;
		// bodies
		const mt = op.body.mediaType;
		// the documented example (or a generated valid body) that the variants start from
		const good = op.body.schemaPtr ? (op.body.media.example ?? generate(this.spec, op.body.schemaPtr, 'typical')) : {};
		const send = (what, body, ct = mt) => this.run(op, what, this.bodyRequest(op, { body, contentType: ct }), E);
		if (op.body.required) await send('no body', null, null);
		if (isJsonType(mt)) {
			if (good && typeof good === 'object' && !Array.isArray(good)) {
				const tc = trailingComma(good);
				await send(`malformed JSON: trailing comma ${tc.slice(0, 70)}`, tc);
				await send('malformed JSON: trailing comma, no Content-Type (a pasted curl example)', tc, null);
				await send('malformed JSON: trailing comma, Content-Type application/x-www-form-urlencoded (curl -d)', tc, 'application/x-www-form-urlencoded');
			}
			await send('malformed JSON: truncated', JSON.stringify(good).slice(0, -1));
			await send('malformed JSON: not JSON at all', 'name=x');
			if (op.body.required) await send('empty body with Content-Type', '');
			await send('valid body, no Content-Type', JSON.stringify(good), null);
			for (const ct of ['text/plain', 'application/xml']) {
				if (!op.body.types.some((t) => mediaMatches(t, ct))) await send(`valid body, Content-Type ${ct}`, JSON.stringify(good), ct);
			}
			const big = JSON.stringify({ ...(typeof good === 'object' && good ? good : {}), padding: 'x'.repeat(this.o.maxBody + 1024) });
			await send(`oversized body (${big.length} bytes)`, big);
			const inv = Buffer.concat([Buffer.from('{"'), Buffer.from(Object.keys(good ?? {})[0] ?? 'name'), Buffer.from('": "bad \xff\xfe utf-8"}', 'latin1')]);
			await send('invalid UTF-8 in a string', inv);
			const depth = 5000;
			await send(`JSON nested ${depth} deep`, `{"${Object.keys(good ?? {})[0] ?? 'name'}": ${'['.repeat(depth)}${']'.repeat(depth)}}`);
			if (op.body.schemaPtr) {
				for (const [what, b] of [['body is an array', []], ['body is null', null], ['body is a string', 'x']]) {
					if (this.spec.validate(op.body.schemaPtr, b, 'request') !== null) await send(what, JSON.stringify(b));
				}
				for (const v of bodyViolations(this.spec, op.body.schemaPtr, good)) {
					if (this.spec.validate(op.body.schemaPtr, v.body, 'request') === null) {
						this.skipped.push(`${op.id}: ${v.what}: the document accepts it`);
						continue;
					}
					await send(`${v.what}: ${JSON.stringify(v.body).slice(0, 60)}`, JSON.stringify(v.body));
				}
			}
		}
	}

	minimalBody(op) {
		if (!op.body || !op.body.schemaPtr) return {};
		return { body: JSON.stringify(generate(this.spec, op.body.schemaPtr, 'typical')),
			headers: { ...this.buildParams(op, 'typical', false).headers, 'Content-Type': op.body.mediaType } };
	}

	order(op) {
		const hasPathParam = op.params.some((p) => p.in === 'path');
		const rank = { POST: hasPathParam ? 3 : 0, GET: 1, HEAD: 1, PUT: 2, PATCH: 2, OPTIONS: 1, TRACE: 1, DELETE: 4 }[op.method] ?? 5;
		return rank;
	}

	async runAll() {
		try {
			await send(this.base + '/', { method: 'GET', ca: this.ca, insecure: this.o.insecure, timeoutMs: 10000 });
		} catch (e) {
			console.log(`FAIL  ${this.name}: cannot reach ${this.base}: ${e.message}`);
			console.log(`${this.name}: 0/${this.spec.operations.length} operations exercised, 1 cases (0 passed, 1 failed)`);
			if (this.checker) this.checker.close();
			return false;
		}
		const ops = [...this.spec.operations].sort((a, b) => this.order(a) - this.order(b));
		for (const op of ops) {
			const hasPathParam = op.params.some((p) => p.in === 'path');
			if (hasPathParam) { await this.invalid(op); await this.valid(op); } else { await this.valid(op); await this.invalid(op); }
			await this.checkLocation(op);
		}
		await this.undocumentedMethods();
		// every operation must have been sent, and have answered a documented
		// 2xx that both validators accepted at least once
		for (const [id, e] of this.exercised) {
			if (e.requests === 0) this.record(`${id}: exercised`, false, ['the operation was never exercised']);
			else if (e.successes === 0) this.record(`${id}: exercised`, false, [`${e.requests} requests, none answered a valid documented 2xx`]);
		}
		if (this.checker) this.checker.close();
		const nops = [...this.exercised.values()].filter((e) => e.successes > 0).length;
		for (const s of this.skipped) console.log(`skip  ${this.name} ${s}`);
		for (const f of this.spec.unknownFormats) console.log(`note  ${this.name}: format "${f}" is unknown to ajv-formats and not checked by ajv`);
		console.log(`${this.name}: ${nops}/${this.spec.operations.length} operations exercised, ${this.pass + this.fail} cases (${this.pass} passed, ${this.fail} failed)${this.checker ? ', every response through ajv and the oapigen checker' : ', every response through ajv'}`);
		return this.fail === 0;
	}

	// Per path, one method the document does not list (with the credential
	// and a bound resource): it must not succeed and must not fail with a
	// 5xx; which 4xx is the server's choice (the document cannot say), but a
	// 405 must name in Allow every method the document lists for the path.
	async undocumentedMethods() {
		const byPath = new Map();
		for (const op of this.spec.operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
		for (const [path, ops] of byPath) {
			const method = ['PATCH', 'PUT', 'DELETE', 'POST'].find((m) => !ops.some((o) => o.method === m));
			if (!method) continue;
			const like = ops[0];
			await this.ensureState(like);
			const r = this.buildParams(like, 'typical', false);
			let res;
			try {
				res = await this.request({ ...like, method }, { ...r, headers: { ...r.headers, 'Content-Type': 'application/json' }, body: '{}' });
			} catch (e) { this.record(`${method} ${path} (not in the document)`, false, [`request failed: ${e.message}`]); continue; }
			const problems = res.status >= 400 && res.status < 500 ? [] : [`expected a 4xx, got ${res.status}`];
			if (res.status === 405) {
				const allow = String(res.headers.allow ?? '').split(',').map((m) => m.trim().toUpperCase());
				const missing = ops.map((o) => o.method).filter((m) => !allow.includes(m));
				if (missing.length) problems.push(`405 without ${missing.join(', ')} in Allow (${res.headers.allow ?? 'no Allow header'})`);
			}
			this.record(`${method} ${path} (not in the document)`, problems.length === 0, problems, res);
		}
	}

	// A 2xx create documenting Location: send GET to it; the GET it names
	// must be a documented operation and answer a documented 2xx.
	async checkLocation(op) {
		for (const [code, r] of Object.entries(op.responses)) {
			if (!/^2/.test(code) || !Object.keys(r.headers ?? {}).some((h) => /^location$/i.test(h))) continue;
			if (op.method !== 'POST' || !op.body) continue;
			const body = generate(this.spec, op.body.schemaPtr, 'typical');
			const res = await this.run(op, 'valid body, then follow Location', this.bodyRequest(op, { body: JSON.stringify(body) }), 'success');
			const loc = res?.headers.location;
			if (!loc) continue;
			const basePath = new URL(this.base).pathname.replace(/\/+$/, '');
			const rel = new URL(loc, this.base + '/').pathname;
			const sub = rel.startsWith(basePath) ? rel.slice(basePath.length) : rel;
			const get = this.spec.operations.find((o) => o.method === 'GET' && new RegExp('^' + o.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)') + '$').test(sub));
			if (!get) { this.record(`${op.id}: Location ${loc}`, false, ['Location names no documented GET operation']); continue; }
			const m = new RegExp('^' + get.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)') + '$').exec(sub);
			const names = [...get.path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
			const pathValues = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
			await this.run(get, `GET the Location of ${op.id} (${loc})`, { pathValues }, 'success');
		}
	}
}

function coerce(p, spec, raw) {
	if (!p.schemaPtr) return raw;
	const t = mainType(flatten(spec, p.schemaPtr).s);
	if ((t === 'integer' || t === 'number') && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(String(raw))) return Number(raw);
	if (t === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
	return typeof raw === 'string' ? raw : String(raw);
}

const opts = parseArgs(process.argv.slice(2));
let runner;
try { runner = new Runner(opts); } catch (e) { die(e.message); }
if (runner.spec.operations.some((op) => runner.needsCredential(op)) && !runner.credential) die('the document requires credentials: pass --credential or --credential-cmd');
const ok = await runner.runAll();
process.exit(ok ? 0 : 1);
