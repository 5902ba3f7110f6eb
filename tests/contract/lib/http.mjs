// http.mjs — one raw HTTP(S) exchange, bytes in and bytes out: no
// Content-Type is ever added behind the caller's back (Node's fetch would),
// so "no Content-Type" really sends none. localAddress picks the source
// address (the runner spreads bad-credential cases over 127.0.0.0/8 so a
// server's per-address failure limit does not turn them into 429s).
import http from 'node:http';
import https from 'node:https';

export function send(url, { method, headers = {}, body = null, ca, insecure, localAddress, timeoutMs = 30000 }) {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		const mod = u.protocol === 'https:' ? https : http;
		const opts = { method, headers: { ...headers }, agent: false, timeout: timeoutMs };
		if (u.protocol === 'https:') {
			if (ca) opts.ca = ca;
			if (insecure) opts.rejectUnauthorized = false;
		}
		if (localAddress) { opts.localAddress = localAddress; opts.family = 4; }
		if (body !== null) opts.headers['Content-Length'] = Buffer.byteLength(body);
		const req = mod.request(u, opts, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
		req.on('error', reject);
		if (body !== null) req.write(body);
		req.end();
	});
}
