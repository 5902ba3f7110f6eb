// browser.js — the docs page in a real browser (tests/docs/run.sh):
//   node browser.js ORIGIN KEY OUTDIR API=BASE=OPERATION_ID...
// Debian's chromium (/usr/bin/chromium, headless; playwright-core never
// downloads a browser) opens ORIGIN+BASE/docs for each API and checks:
//   - the page's Content-Security-Policy header is the one docs.h sets
//     (no 'unsafe-eval', no 'unsafe-inline') and the page breaks none of it;
//   - every operation of the API's document is listed;
//   - Authorize with KEY, "Try it out" on OPERATION_ID, Execute: the page
//     shows 201, and the request went to BASE on this server with the key;
//   - no request of the page left ORIGIN (data: URLs never leave the page).
// A screenshot of each page after the 201 goes to OUTDIR/<api>.png.
// Prints one "ok    ..." or "FAIL  ..." line per check; exit 1 on any FAIL.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [origin, key, outdir, ...apis] = process.argv.slice(2);
if (!origin || !key || !outdir || apis.length === 0) {
  process.stderr.write('usage: node browser.js ORIGIN KEY OUTDIR API=BASE=OPERATION_ID...\n');
  process.exit(2);
}
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; " +
            "frame-ancestors 'none'";
const TIMEOUT = 60000;   // a shared 2-core machine: generous, never a measure
let failed = 0;
const ok = (name) => console.log('ok    ' + name);
const no = (name, why) => {
  failed++;
  console.log('FAIL  ' + name + (why ? '\n      ' + String(why).split('\n').slice(0, 6).join('\n      ') : ''));
};
const check = (name, cond, why) => (cond ? ok(name) : no(name, why));

async function one(browser, api, base, opId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests = [];
  const violations = [];
  const errors = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), headers: r.headers() }));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.log('Refused to load (CSP ' + e.violatedDirective + '): ' + e.blockedURI);
    });
  });
  try {
    const resp = await page.goto(origin + base + '/docs', { waitUntil: 'load', timeout: TIMEOUT });
    const h = resp.headers();
    check(`${api}: GET ${base}/docs is 200 text/html`, resp.status() === 200 && /^text\/html/.test(h['content-type'] || ''),
          `${resp.status()} ${h['content-type']}`);
    check(`${api}: the page's Content-Security-Policy is docs.h's`, h['content-security-policy'] === CSP,
          h['content-security-policy']);
    check(`${api}: the CSP allows no unsafe-eval or unsafe-inline`,
          !/unsafe-(eval|inline)/.test(h['content-security-policy'] || 'unsafe-none'), h['content-security-policy']);

    // every operation of the document is listed
    const doc = await (await context.request.get(origin + base + '/openapi.json')).json();
    const want = [];
    for (const [p, item] of Object.entries(doc.paths || {}))
      for (const m of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'])
        if (item[m]) want.push(`${m.toUpperCase()} ${p}`);
    await page.waitForSelector('.opblock', { timeout: TIMEOUT });
    // tags start open (docExpansion "list"); every operation is a .opblock
    const shown = await page.$$eval('.opblock', (els) => els.map((e) =>
      e.querySelector('.opblock-summary-method').textContent.trim() + ' ' +
      e.querySelector('.opblock-summary-path').getAttribute('data-path')));
    const missing = want.filter((w) => !shown.includes(w));
    check(`${api}: all ${want.length} operations of the document are listed`, want.length > 0 && missing.length === 0,
          'missing: ' + missing.join(', ') + '; shown: ' + shown.join(', '));

    // Authorize: one scheme per API here (apiKey header or HTTP bearer)
    await page.click('.auth-wrapper .authorize');
    const input = page.locator('.modal-ux .auth-container input').first();
    await input.fill(key, { timeout: TIMEOUT });
    await page.click('.modal-ux .auth-btn-wrapper .modal-btn.authorize');
    await page.click('.modal-ux .auth-btn-wrapper .btn-done');

    // Try it out on the create operation, with the document's example body
    const op = page.locator(`.opblock[id$="-${opId}"]`);
    await op.locator('.opblock-summary').first().click();
    await op.locator('.try-out__btn').click({ timeout: TIMEOUT });
    await op.locator('.execute').click({ timeout: TIMEOUT });
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: TIMEOUT });
    const got = (await status.textContent()).trim();
    check(`${api}: Try it out on ${opId} shows 201 on the page`, /^201\b/.test(got), `the page shows "${got}"`);

    const sent = requests.filter((r) => r.method === 'POST');
    const auth = (r) => (r.headers['x-api-key'] === key || r.headers['authorization'] === 'Bearer ' + key);
    check(`${api}: the create request went to ${base} on this server with the key`,
          sent.length === 1 && sent[0].url.startsWith(origin + base + '/') && auth(sent[0]),
          JSON.stringify(sent.map((r) => [r.url, r.headers])));

    fs.mkdirSync(outdir, { recursive: true });
    await page.screenshot({ path: path.join(outdir, api + '.png'), fullPage: true });
  } catch (e) {
    no(`${api}: the page works in chromium`, e.stack || e);
  }
  const away = requests.filter((r) => !r.url.startsWith('data:') && new URL(r.url).origin !== origin);
  check(`${api}: no request left ${origin} (${requests.length} requests)`, requests.length > 0 && away.length === 0,
        away.map((r) => r.url).join('\n'));
  check(`${api}: the page broke no Content-Security-Policy rule`, violations.length === 0, violations.join('\n'));
  check(`${api}: no script error on the page`, errors.length === 0, errors.join('\n'));
  await context.close();
}

(async () => {
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      // root in a container: chromium's sandbox needs user namespaces
      args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
    });
  } catch (e) {
    no('chromium starts (/usr/bin/chromium, headless)', e.message);
    process.exit(1);
  }
  for (const a of apis) {
    const [api, base, opId] = a.split('=');
    await one(browser, api, base, opId);
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})();
