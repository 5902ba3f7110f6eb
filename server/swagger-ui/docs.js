// docs.js — starts Swagger UI on apikeyd's <base>/docs page (server/docs.c).
// A file of its own, not an inline script, so the page's
// Content-Security-Policy can say script-src 'self' and nothing more.
// The page names its API's document and base path in data attributes; the
// document is fetched from this server and its servers list is replaced
// by the base path the API is mounted at here (--mount may have moved it), so
// "Try it out" sends every request to this server and nowhere else.
'use strict';
window.addEventListener('load', function () {
  var root = document.getElementById('swagger-ui');
  var base = root.getAttribute('data-base');
  fetch(root.getAttribute('data-spec'), { credentials: 'same-origin' })
    .then(function (r) {
      if (!r.ok) throw new Error(r.url + ': HTTP ' + r.status);
      return r.json();
    })
    .then(function (spec) {
      if (spec.swagger) {          // Swagger 2.0: host and basePath
        delete spec.host;
        delete spec.schemes;
        spec.basePath = base;
      } else {
        spec.servers = [{ url: base, description: 'this server' }];
      }
      window.ui = SwaggerUIBundle({
        spec: spec,
        dom_id: '#swagger-ui',
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: 'BaseLayout',
        validatorUrl: null,
        persistAuthorization: false,
        tryItOutEnabled: false
      });
    })
    .catch(function (e) {
      root.textContent = 'Cannot load the API document: ' + e.message;
    });
});
