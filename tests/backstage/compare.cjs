// One template through Backstage's scaffolder and through Lever, with the same client
// (Backstage's ScaffolderClient on the event stream): what each step went through, the event
// types in order, and the output's shape. tests/all/backstage.rs runs it and compares.
//   BACKSTAGE_URL=... BACKSTAGE_TOKEN=... LEVER_URL=... LEVER_TOKEN=... node compare.cjs
'use strict';
const { ScaffolderClient } = require('@backstage/plugin-scaffolder-common');

globalThis.window = globalThis;
globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };

function client(base, token) {
  return new ScaffolderClient({
    discoveryApi: { getBaseUrl: async () => `${base}/api/scaffolder` },
    fetchApi: {
      fetch: (input, init = {}) => {
        const headers = new Headers(init.headers || {});
        headers.set('authorization', `Bearer ${token}`);
        return fetch(input, { ...init, headers });
      },
    },
    identityApi: { getBackstageIdentity: async () => ({ userEntityRef: 'user:default/guest' }) },
  });
}

function shape(value) {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map(k => [k, shape(value[k])]));
  }
  return typeof value;
}

async function observe(api) {
  const { taskId } = await api.scaffold({ templateRef: 'template:default/peer-3-debug-log', values: { name: 'same' } });
  const task = await api.getTask(taskId);
  return new Promise((resolve, reject) => {
    const seen = { types: [], transitions: [], steps: task.spec.steps.map(s => s.id) };
    const timer = setTimeout(() => reject(new Error(`no completion: ${JSON.stringify(seen)}`)), 30000);
    api.streamLogs({ taskId }).subscribe({
      next(event) {
        if (event.type !== 'log' && event.type !== 'completion') {
          reject(new Error(`Unhandled event type ${event.type} in observer`));
        }
        if (seen.types[seen.types.length - 1] !== event.type) seen.types.push(event.type);
        if (event.body.stepId && event.body.status) seen.transitions.push([event.body.stepId, event.body.status]);
        if (event.type === 'completion') {
          clearTimeout(timer);
          seen.output = shape(event.body.output);
          seen.completion = event.body.message;
          resolve(seen);
        }
      },
      error: reject,
    });
  });
}

(async () => {
  const backstage = await observe(client(process.env.BACKSTAGE_URL, process.env.BACKSTAGE_TOKEN));
  const lever = await observe(client(process.env.LEVER_URL, process.env.LEVER_TOKEN));
  console.log(JSON.stringify({ backstage, lever }));
})().catch(e => { console.error(e); process.exit(1); });
