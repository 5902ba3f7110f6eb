// swagger_parser.js REPS DOC...: @apidevtools/swagger-parser validate()
// (parse, resolve, validate against the OpenAPI schema, dereference, validate
// the spec's rules) of each document, in process, after one warm-up run.
// Prints per document: "<doc><TAB><ms per run><TAB>ok" or "<doc><TAB>0<TAB>error: <message>".
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

async function main() {
  const [reps, ...docs] = process.argv.slice(2);
  for (const d of docs) {
    try {
      await SwaggerParser.validate(d);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < Number(reps); i++) await SwaggerParser.validate(d);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6 / Number(reps);
      process.stdout.write(`${d}\t${ms.toFixed(3)}\tok\n`);
    } catch (e) {
      process.stdout.write(`${d}\t0\terror: ${String(e.message).split('\n')[0]}\n`);
    }
  }
}
main();
