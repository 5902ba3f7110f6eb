// swagger_parser.js REPS DOC...: @apidevtools/swagger-parser validate()
// (parse, resolve, validate against the OpenAPI schema, dereference, validate
// the spec's rules) of each document, in process, after one warm-up run.
// Prints per document: "<doc><TAB><median ms of REPS runs><TAB>ok" or
// "<doc><TAB>0<TAB>error: <message>".
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

async function main() {
  const [reps, ...docs] = process.argv.slice(2);
  for (const d of docs) {
    try {
      await SwaggerParser.validate(d);
      const ms = [];
      for (let i = 0; i < Number(reps); i++) {
        const t0 = process.hrtime.bigint();
        await SwaggerParser.validate(d);
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      ms.sort((a, b) => a - b);
      process.stdout.write(`${d}\t${ms[Math.floor(ms.length / 2)].toFixed(3)}\tok\n`);
    } catch (e) {
      process.stdout.write(`${d}\t0\terror: ${String(e.message).split('\n')[0]}\n`);
    }
  }
}
main();
