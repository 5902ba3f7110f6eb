// prep_validate.js TOP OUTDIR: writes OUTDIR/<n>.json (the schemas, plain
// JSON) and OUTDIR/cases.json for valbench (C) and ajv.js from
// validate_cases.json. Request-body schemas are taken from each document
// after swagger-parser has dereferenced it; the OpenAPI 3.0 schema is copied
// as is. Instances are given (api) or are the documents themselves, each also
// broken four ways (openapi-schema).
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const SwaggerParser = require('@apidevtools/swagger-parser');

async function main() {
  const [top, out] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, 'validate_cases.json'), 'utf8'));
  const cases = [];
  const count = { 30: 0, 31: 0 };
  fs.mkdirSync(out, { recursive: true });
  const add = (name, schema, dialect, draft04, instances) => {
    const file = path.join(out, `${cases.length}.json`);
    fs.writeFileSync(file, JSON.stringify(schema, null, 1));
    cases.push({ name, file, dialect, index: count[dialect]++, draft04: !!draft04, instances });
  };
  for (const a of spec.api) {
    const doc = await SwaggerParser.dereference(path.join(top, a.spec));
    const schema = doc.components.schemas[a.schema];
    const inst = a.valid.map((d) => ({ data: d, valid: true })).concat(a.invalid.map((d) => ({ data: d, valid: false })));
    add(`${path.basename(a.spec, '.yaml')} ${a.schema}`, schema, a.dialect, false, inst);
  }
  const o = spec['openapi-schema'];
  const meta = JSON.parse(fs.readFileSync(path.join(__dirname, o.schema), 'utf8'));
  const inst = [];
  for (const d of o.documents) {
    const doc = yaml.load(fs.readFileSync(path.join(top, d), 'utf8'), { schema: yaml.CORE_SCHEMA });
    const clone = () => JSON.parse(JSON.stringify(doc));
    inst.push({ data: doc, valid: true });
    let b = clone(); delete b.info; inst.push({ data: b, valid: false });
    b = clone(); b.openapi = 3; b.bogus = true; inst.push({ data: b, valid: false });
    b = clone(); const p = Object.keys(b.paths)[0]; const m = Object.keys(b.paths[p]).find((k) => k !== 'parameters');
    b.paths[p][m].responses = 'none'; b.paths[p][m].parameters = [{ name: 'x' }]; inst.push({ data: b, valid: false });
    b = clone(); b.servers = [{ url: 5 }]; b.info.version = null; inst.push({ data: b, valid: false });
  }
  add('OpenAPI 3.0 schema, documents as instances', meta, o.dialect, o.draft04, inst);
  fs.writeFileSync(path.join(out, 'cases.json'), JSON.stringify(cases));
}
main().catch((e) => { console.error(`prep_validate: ${e.message}`); process.exit(1); });
