// ajv.js CASES.json SECONDS: validations/s of ajv (+ ajv-formats) on the
// cases prep_validate.js wrote, allErrors: true, the same loop as valbench.c.
// Prints per case: "case<TAB>name<TAB>validations/s<TAB>errors per pass<TAB>wrong verdicts".
'use strict';
const fs = require('fs');
const Ajv = require('ajv').default;
const Ajv2020 = require('ajv/dist/2020').default;
const AjvDraft04 = require('ajv-draft-04').default;
const addFormats = require('ajv-formats').default;

const [file, secs] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
const now = () => Number(process.hrtime.bigint()) / 1e9;
for (const c of cases) {
  const Cls = c.dialect === 31 ? Ajv2020 : c.draft04 ? AjvDraft04 : Ajv;
  const ajv = new Cls({ allErrors: true, strict: false });
  addFormats(ajv);
  const schema = JSON.parse(fs.readFileSync(c.file, 'utf8'));
  const validate = ajv.compile(schema);
  const pass = (w) => {
    let errors = 0;
    for (const it of c.instances) {
      const ok = validate(it.data);
      if (!ok) errors += validate.errors.length;
      if (ok !== it.valid) w.n++;
    }
    return errors;
  };
  const wrong = { n: 0 };
  const errors = pass(wrong); // also the warm-up
  let passes = 0, sink = 0, t;
  const t0 = now();
  do { sink += pass({ n: 0 }); passes++; t = now(); } while (t - t0 < Number(secs));
  process.stdout.write(`case\t${c.name}\t${Math.round((passes * c.instances.length) / (t - t0))}\t${errors}\t${wrong.n}\n`);
  if (sink !== errors * passes) process.stderr.write(`ajv.js: ${c.name}: error count changed between passes\n`);
}
