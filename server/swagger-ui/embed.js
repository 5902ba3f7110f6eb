// embed.js — writes the C file that carries the docs page's files in apikeyd
// (server/docs.c serves them): node embed.js OUT.c DIR
// DIR is node_modules/swagger-ui-dist; docs.js and docs.css come from this
// folder. Each file becomes one string literal (every byte outside printable
// ASCII, and ", \ and ?, as a three-digit octal escape, so no escape runs into
// the next character and no trigraph forms); the same input gives the same
// bytes.
'use strict';
const fs = require('fs');
const path = require('path');

const [out, dist] = process.argv.slice(2);
if (!out || !dist) {
  process.stderr.write('usage: node embed.js OUT.c SWAGGER_UI_DIST_DIR\n');
  process.exit(2);
}
const here = __dirname;
// name served under <base>/docs/, file, media type
const files = [
  ['swagger-ui-bundle.js', path.join(dist, 'swagger-ui-bundle.js'), 'text/javascript; charset=utf-8'],
  ['swagger-ui.css', path.join(dist, 'swagger-ui.css'), 'text/css; charset=utf-8'],
  ['favicon-32x32.png', path.join(dist, 'favicon-32x32.png'), 'image/png'],
  ['swagger-ui-bundle.js.LICENSE.txt', path.join(dist, 'swagger-ui-bundle.js.LICENSE.txt'), 'text/plain; charset=utf-8'],
  ['LICENSE', path.join(dist, 'LICENSE'), 'text/plain; charset=utf-8'],
  ['NOTICE', path.join(dist, 'NOTICE'), 'text/plain; charset=utf-8'],
  ['docs.js', path.join(here, 'docs.js'), 'text/javascript; charset=utf-8'],
  ['docs.css', path.join(here, 'docs.css'), 'text/css; charset=utf-8'],
];
const version = JSON.parse(fs.readFileSync(path.join(dist, 'package.json'), 'utf8')).version;

function literal(buf) {
  const lines = [];
  let line = '';
  for (const b of buf) {
    if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f) line += String.fromCharCode(b);
    else line += '\\' + b.toString(8).padStart(3, '0');
    if (line.length >= 76 || b === 0x0a) {
      lines.push('\t"' + line + '"');
      line = '';
    }
  }
  if (line.length || lines.length === 0) lines.push('\t"' + line + '"');
  return lines.join('\n');
}

let c = '/* Written by server/swagger-ui/embed.js from swagger-ui-dist ' + version +
        ' and server/swagger-ui/docs.{js,css} — DO NOT EDIT. */\n' +
        '#include "docs.h"\n\n';
const rows = [];
files.forEach(([name, file, type], i) => {
  const data = fs.readFileSync(file);
  c += '/* ' + name + ' */\nstatic const char docs_asset_' + i + '[] =\n' + literal(data) + ';\n\n';
  rows.push('\t{ "' + name + '", "' + type + '", docs_asset_' + i + ', sizeof docs_asset_' + i + ' - 1 },');
});
c += 'const char docs_ui_version[] = "' + version + '";\n\n';
c += 'const docs_asset docs_assets[] = {\n' + rows.join('\n') + '\n\t{ NULL, NULL, NULL, 0 },\n};\n';
fs.writeFileSync(out + '.tmp', c);
fs.renameSync(out + '.tmp', out);
