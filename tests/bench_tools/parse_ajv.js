// parse_ajv.js CASES.json SECONDS OUTDIR: bytes to validated value on Node,
// the baseline of bench-parse: Buffer -> string (utf8) -> JSON.parse -> an
// ajv validator compiled to standalone code (ajv/dist/standalone, ajv-formats,
// allErrors: true; Ajv2020 for 3.1, ajv-draft-04 for the OpenAPI schema),
// written to OUTDIR/<case>.standalone.js and loaded back, so the measured
// validator is plain generated code. A body JSON.parse refuses counts one
// error. Also JSON.parse alone on the same bytes (the parse floor).
// Prints per case and group (valid: the valid bodies; mix: all of them):
// "case<TAB>name<TAB>group<TAB>bodies/s<TAB>errors per pass<TAB>wrong verdicts<TAB>JSON.parse-only bodies/s".
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv').default;
const Ajv2020 = require('ajv/dist/2020').default;
const AjvDraft04 = require('ajv-draft-04').default;
const addFormats = require('ajv-formats').default;
const standaloneCode = require('ajv/dist/standalone').default;

const [file, secs, outdir] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
const now = () => Number(process.hrtime.bigint()) / 1e9;
const time = (fn) => {
  fn(); // warm-up
  let passes = 0, t;
  const t0 = now();
  do { fn(); passes++; t = now(); } while (t - t0 < Number(secs));
  return passes / (t - t0);
};
cases.forEach((c, ci) => {
  const Cls = c.dialect === 31 ? Ajv2020 : c.draft04 ? AjvDraft04 : Ajv;
  const ajv = new Cls({ allErrors: true, strict: false, code: { source: true } });
  addFormats(ajv);
  const src = standaloneCode(ajv, ajv.compile(JSON.parse(fs.readFileSync(c.file, 'utf8'))));
  const mod = path.join(outdir, `${ci}.standalone.js`);
  fs.writeFileSync(mod, src);
  const validate = require(mod);
  for (const group of ['valid', 'mix']) {
    const bodies = c.bodies.filter((b) => group === 'mix' || b.valid).map((b) => ({ buf: Buffer.from(b.text, 'utf8'), valid: b.valid }));
    let errors = 0, wrong = 0, sink = 0;
    const pass = (count) => {
      let e = 0;
      for (const b of bodies) {
        let ok;
        try {
          const d = JSON.parse(b.buf.toString('utf8'));
          ok = validate(d);
          if (!ok) e += validate.errors.length;
        } catch (err) {
          ok = false;
          e++;
        }
        if (count && ok !== b.valid) wrong++;
      }
      return e;
    };
    errors = pass(true);
    const rate = time(() => { sink += pass(false); }) * bodies.length;
    const parseOnly = time(() => { for (const b of bodies) { try { sink += JSON.parse(b.buf.toString('utf8')) === undefined; } catch (err) { sink++; } } }) * bodies.length;
    process.stdout.write(`case\t${c.name}\t${group}\t${Math.round(rate)}\t${errors}\t${wrong}\t${Math.round(parseOnly)}\n`);
    if (sink < 0) process.stderr.write('unreachable\n');
  }
});
