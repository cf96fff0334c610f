// The floor under side-by-side.sh's latency figures: the same Node.js `fetch` client as
// measure-lever.js, timing what the server does almost nothing for (`GET /healthz`, and
// `GET /api/v1/runs/{id}` of a finished run, authenticated) next to the preview it reports,
// and reading the server's own time for each preview from its `Server-Timing` header. What
// the client adds is the gap between the two.
//   usage: LEVER_URL=http://127.0.0.1:PORT LEVER_TOKEN=lvr_... node client-floor.js [N=200]
// LEVER_TEMPLATE (peer-3-debug-log) as in measure-lever.js. Prints one JSON object.
'use strict';
const BASE = process.env.LEVER_URL || 'http://127.0.0.1:7878';
const TOKEN = process.env.LEVER_TOKEN;
const TEMPLATE = process.env.LEVER_TEMPLATE || 'peer-3-debug-log';
const N = Number(process.argv[2] || 200);
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const now = () => Number(process.hrtime.bigint()) / 1e6;

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = p => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
  return { n: s.length, p50_ms: +at(50).toFixed(3), p99_ms: +at(99).toFixed(3) };
}

async function timed(url, init) {
  const t0 = now();
  const res = await fetch(url, init);
  await res.text();
  if (!res.ok) throw new Error(`${url} -> ${res.status}`);
  return [now() - t0, res.headers.get('server-timing')];
}

// `total;dur=1.23` in a Server-Timing header, in ms.
function serverTotal(header) {
  const m = /total;dur=([0-9.]+)/.exec(header || '');
  return m ? Number(m[1]) : null;
}

(async () => {
  const preview = { method: 'POST', headers, body: JSON.stringify({ parameters: { name: 'floor' } }) };
  const submitted = await fetch(`${BASE}/api/v1/runs`, {
    method: 'POST', headers, body: JSON.stringify({ template: TEMPLATE, parameters: { name: 'floor' } }),
  }).then(r => r.json());
  await fetch(`${BASE}/api/v1/runs/${submitted.id}?wait=30`, { headers }).then(r => r.text());
  const figures = { healthz: [], run_read: [], preview: [], preview_server: [] };
  for (let i = 0; i < N + 20; i++) {
    const [h] = await timed(`${BASE}/healthz`, {});
    const [r] = await timed(`${BASE}/api/v1/runs/${submitted.id}`, { headers });
    const [p, timing] = await timed(`${BASE}/api/v1/templates/${TEMPLATE}/preview`, preview);
    if (i < 20) continue; // warm-up
    figures.healthz.push(h);
    figures.run_read.push(r);
    figures.preview.push(p);
    const server = serverTotal(timing);
    if (server != null) figures.preview_server.push(server);
  }
  const out = {};
  for (const [name, xs] of Object.entries(figures)) if (xs.length) out[name] = summary(xs);
  console.log(JSON.stringify(out, null, 2));
})().catch(e => { console.error(e); process.exit(1); });
