// Times the Backstage scaffolder peer's dry run (`POST /api/scaffolder/v2/dry-run`) of a corpus
// template with its skeleton sent as `directoryContents`. The peer has no GitHub module, so
// only the template's `fetch:*` steps are kept (and no output): Backstage renders the skeleton
// and answers the rendered files.
//   usage: NODE_PATH=PEER_DIR/node_modules node dry-run.js TEMPLATE.yaml TEMPLATE_DIR VALUES_JSON [N]
// The peer is runtime/bench/peer/backstage (setup.sh, start.sh); BS_PEER_PORT and
// BS_PEER_TOKEN as there. Prints one JSON line: p50/p90 in ms and the files the run rendered.
const fs = require('fs');
const path = require('path');
const yaml = require('yaml');

const [templateFile, templateDir, valuesJson, n = '25'] = process.argv.slice(2);
const port = process.env.BS_PEER_PORT || '7007';
const token = process.env.BS_PEER_TOKEN || 'peer-static-token-0123456789';

function files(dir, base = dir, out = []) {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) files(full, base, out);
    else out.push({ path: path.relative(base, full), base64Content: fs.readFileSync(full).toString('base64') });
  }
  return out;
}

(async () => {
  const template = yaml.parse(fs.readFileSync(templateFile, 'utf8'));
  template.spec.steps = template.spec.steps.filter(s => s.action.startsWith('fetch:'));
  delete template.spec.output;
  const body = JSON.stringify({
    template,
    values: JSON.parse(valuesJson),
    directoryContents: files(templateDir).filter(f => f.path !== path.basename(templateFile)),
  });
  const samples = [];
  let rendered = 0;
  for (let i = 0; i < Number(n) + 5; i++) {
    const started = process.hrtime.bigint();
    const response = await fetch(`http://127.0.0.1:${port}/api/scaffolder/v2/dry-run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const answer = await response.json();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (response.status !== 200) throw new Error(`dry run answered ${response.status}: ${JSON.stringify(answer).slice(0, 500)}`);
    rendered = (answer.directoryContents || []).length;
    if (i >= 5) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const at = p => samples[Math.floor((samples.length - 1) * p)];
  console.log(JSON.stringify({ runs: samples.length, p50_ms: at(0.5), p90_ms: at(0.9), files: rendered }));
})().catch(e => { console.error(e.message); process.exit(1); });
