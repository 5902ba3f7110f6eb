// prep_parse.js CASES.json OUT.json: the bodies of bench-parse, as bytes
// both sides read, from the cases prep_validate.js wrote (the same schemas
// and instances as bench-validate). Each instance becomes a body: compact
// JSON.stringify for the request bodies, 2-space indented for the OpenAPI
// documents (as such files are written); each case also gets two
// malformed bodies (the first valid body with a trailing comma, and cut in
// half), which the mix counts as invalid.
'use strict';
const fs = require('fs');

const [file, out] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
const res = cases.map((c) => {
  const big = /^OpenAPI/.test(c.name);
  const text = (d) => (big ? JSON.stringify(d, null, 2) : JSON.stringify(d));
  const bodies = c.instances.map((it) => ({ text: text(it.data), valid: it.valid, kind: it.valid ? 'valid' : 'invalid' }));
  const first = bodies.find((b) => b.valid).text;
  const at = first.lastIndexOf('}');
  bodies.push({ text: `${first.slice(0, at)},${first.slice(at)}`, valid: false, kind: 'malformed' });
  bodies.push({ text: first.slice(0, Math.floor(first.length / 2)), valid: false, kind: 'malformed' });
  return { name: c.name, file: c.file, dialect: c.dialect, index: c.index, draft04: c.draft04, bodies };
});
fs.writeFileSync(out, JSON.stringify(res));
