// Drives Lever's /api/scaffolder/v2 with Backstage's own ScaffolderClient
// (@backstage/plugin-scaffolder-common, pinned in package.json), as Backstage's frontend does,
// and checks what a Backstage user would see. tests/all/backstage.rs starts Lever and runs it:
//   LEVER_URL=... ALICE_TOKEN=... CAROL_TOKEN=... EXCHANGES=out.json node drive.cjs
// Every answer other than the event stream is written to EXCHANGES, which the Rust test
// validates against Backstage's OpenAPI document.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { ScaffolderClient } = require('@backstage/plugin-scaffolder-common');

// @microsoft/fetch-event-source, which the client's SSE path uses, is written for browsers.
globalThis.window = globalThis;
globalThis.document = { hidden: false, addEventListener() {}, removeEventListener() {} };

const URL_ = process.env.LEVER_URL;
const exchanges = [];

function client(token, useLongPollingLogs) {
  // Backstage's FetchApi adds the user's token to every call; this one also records answers.
  const fetchApi = {
    async fetch(input, init = {}) {
      const headers = new Headers(init.headers || {});
      if (token) headers.set('authorization', `Bearer ${token}`);
      const response = await fetch(input, { ...init, headers });
      const type = response.headers.get('content-type') || '';
      if (!type.includes('text/event-stream')) {
        const text = await response.clone().text();
        exchanges.push({
          method: init.method || 'GET',
          url: String(input),
          status: response.status,
          contentType: type,
          body: text,
        });
      }
      return response;
    },
  };
  return new ScaffolderClient({
    discoveryApi: { getBaseUrl: async () => `${URL_}/api/scaffolder` },
    fetchApi,
    identityApi: {
      getBackstageIdentity: async () => ({ userEntityRef: 'user:default/alice', ownershipEntityRefs: [] }),
      getCredentials: async () => ({ token }),
    },
    scmIntegrationsApi: {},
    useLongPollingLogs,
  });
}

// What useTaskEventStream (plugins/scaffolder-react) derives from a task and its events.
function follow(api, taskId, { after, recovering } = {}) {
  return new Promise((resolve, reject) => {
    api.getTask(taskId).then(task => {
      const state = { steps: {}, stepLogs: {}, logs: [], events: [], completed: false };
      for (const step of task.spec.steps) {
        state.steps[step.id] = { status: 'open' };
        state.stepLogs[step.id] = [];
      }
      const timer = setTimeout(() => reject(new Error(`no completion for ${taskId}: ${JSON.stringify(state.events.map(e => e.body.message))}`)), 60000);
      api.streamLogs({ taskId, after }).subscribe({
        next(event) {
          state.events.push(event);
          switch (event.type) {
            case 'log': {
              const line = `${event.createdAt} ${event.body.message}`;
              state.logs.push(event.body.message);
              const step = event.body.stepId && state.steps[event.body.stepId];
              if (!step) return;
              if (event.body.status && event.body.status !== step.status) step.status = event.body.status;
              state.stepLogs[event.body.stepId].push(line);
              return;
            }
            case 'completion':
              state.completed = true;
              state.output = event.body.output;
              state.error = event.body.error;
              clearTimeout(timer);
              resolve(state);
              return;
            case 'recovered':
              // Backstage's retry writes it; a frontend that follows a retried task expects it.
              if (recovering) return;
              throw new Error('a recovered event on a task nobody retried');
            default:
              throw new Error(`Unhandled event type ${event.type} in observer`);
          }
        },
        error(e) { clearTimeout(timer); reject(e); },
      });
    }, reject);
  });
}

async function rejects(promise, status, name) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.response?.status ?? e.statusCode, status, String(e));
    if (name) assert.equal(e.body?.error?.name, name, JSON.stringify(e.body));
    return e;
  }
  assert.fail(`expected ${status}`);
}

async function approve(runId) {
  // The approver decides in Lever, as they would from its inbox, Slack or email.
  const h = { authorization: `Bearer ${process.env.CAROL_TOKEN}`, 'content-type': 'application/json' };
  for (let i = 0; i < 100; i++) {
    const stages = await (await fetch(`${URL_}/api/v1/approvals?assigned=me`, { headers: h })).json();
    const stage = (stages.approvals || []).find(s => s.run === runId);
    if (stage) {
      const res = await fetch(`${URL_}/api/v1/approvals/${stage.id}/approve`, {
        method: 'POST', headers: h, body: JSON.stringify({ comment: 'looks right' }),
      });
      assert.equal(res.status, 200, await res.text());
      return;
    }
    await new Promise(r => setTimeout(r, 100));
  }
  assert.fail(`no approval stage for ${runId}`);
}

(async () => {
  const sse = client(process.env.ALICE_TOKEN, false);
  const polling = client(process.env.ALICE_TOKEN, true);
  const report = {};

  // The form.
  const schema = await sse.getTemplateParameterSchema('template:default/backstage-hello');
  assert.equal(schema.title, 'Say hello');
  assert.equal(schema.description, 'Two debug:log steps, in dev or in production');
  assert.deepEqual(schema.steps.map(s => s.title), ['Who', 'Where']);
  assert.deepEqual(schema.steps[0].schema.required, ['name']);
  assert.equal(schema.presentation.buttonLabels.createButtonText, 'Say it');
  assert.equal(schema['ui:options'].feedback, true);
  await rejects(sse.getTemplateParameterSchema('template:default/no-such-template'), 404, 'NotFoundError');

  // What the editor lists.
  const actions = await sse.listActions();
  const ids = actions.map(a => a.id);
  assert.deepEqual(ids, [...ids].sort());
  const log = actions.find(a => a.id === 'debug-log');
  assert.ok(log, `debug-log among ${ids}`);
  assert.equal(log.schema.input.type, 'object');
  const extensions = await sse.listTemplatingExtensions();
  for (const filter of ['parseRepoUrl', 'parseEntityRef', 'pick', 'projectSlug']) {
    assert.ok(extensions.filters[filter], `filter ${filter}`);
  }

  // A task, followed on the event stream.
  const { taskId } = await sse.scaffold({ templateRef: 'template:default/backstage-hello', values: { name: 'ada' } });
  const streamed = await follow(sse, taskId);
  assert.deepEqual(Object.fromEntries(Object.entries(streamed.steps).map(([k, v]) => [k, v.status])), { greet: 'completed', farewell: 'completed' });
  assert.ok(streamed.stepLogs.greet.some(l => l.endsWith('hello ada')), JSON.stringify(streamed.stepLogs));
  assert.deepEqual(streamed.output, { text: [{ title: 'Greeting', content: 'said hello to ada' }] });
  assert.equal(streamed.error, undefined);
  report.sse_types = streamed.events.map(e => e.type);
  report.sse_messages = streamed.events.map(e => e.body.message);
  const ids2 = streamed.events.map(e => e.id);
  assert.deepEqual(ids2, [...ids2].sort((a, b) => a - b), 'event ids increase');
  const task = await sse.getTask(taskId);
  assert.equal(task.status, 'completed');
  assert.equal(task.createdBy, 'user:default/alice');
  assert.equal(task.spec.templateInfo.entityRef, 'template:default/backstage-hello');
  assert.equal(task.spec.templateInfo.entity.metadata.title, 'Say hello');
  assert.deepEqual(task.spec.parameters, { name: 'ada', environment: 'dev' });
  assert.deepEqual(task.spec.steps.map(s => [s.id, s.name, s.action]), [['greet', 'Greet', 'debug:log'], ['farewell', 'Say goodbye', 'debug:log']]);

  // The same, long-polling.
  const second = await polling.scaffold({ templateRef: 'template:default/backstage-hello', values: { name: 'grace' } });
  const polled = await follow(polling, second.taskId);
  assert.equal(polled.steps.farewell.status, 'completed', JSON.stringify(polled.events));
  assert.ok(polled.output, JSON.stringify(polled.events));
  assert.deepEqual(polled.output.text[0].content, 'said hello to grace');

  // Lists: the caller's own, and all they may see.
  const owned = await sse.listTasks({ filterByOwnership: 'owned' });
  assert.ok(owned.tasks.some(t => t.id === taskId));
  assert.ok(owned.tasks.every(t => t.createdBy === 'user:default/alice'));
  const all = await sse.listTasks({ filterByOwnership: 'all', limit: 1 });
  assert.equal(all.tasks.length, 1);
  assert.ok(all.totalTasks >= 2, `totalTasks ${all.totalTasks}`);

  // Invalid values: Backstage's 400 with the errors.
  const invalid = await sse.scaffold({ templateRef: 'template:default/backstage-hello', values: { name: 'Not Valid!' } }).catch(e => e);
  assert.match(String(invalid), /Backend request failed, 400/);
  assert.match(String(invalid), /"errors"/);

  // Production needs the team lead: the stream says who and where, then goes on once approved.
  const prod = await sse.scaffold({ templateRef: 'template:default/backstage-hello', values: { name: 'prod', environment: 'production' } });
  const waiting = follow(sse, prod.taskId);
  await approve(prod.taskId);
  const approved = await waiting;
  const asked = approved.logs.find(m => m.startsWith('Waiting for approval'));
  assert.ok(asked, JSON.stringify(approved.logs));
  assert.match(asked, /payments-leads/);
  assert.match(asked, new RegExp(`/runs/${prod.taskId}`));
  assert.ok(approved.logs.some(m => /carol approved/.test(m)), JSON.stringify(approved.logs));
  assert.equal(approved.steps.farewell.status, 'completed');
  assert.ok(approved.output, JSON.stringify(approved.events));
  report.approval_messages = approved.logs;

  // A failing step: the stream shows it failed and its predecessor rolled back; a retry goes
  // on from the failed step.
  const failing = await sse.scaffold({ templateRef: 'template:default/backstage-fails', values: {} });
  const failed = await follow(sse, failing.taskId);
  assert.equal(failed.steps.flaky.status, 'failed');
  assert.ok(failed.stepLogs.prepare.some(l => /Rolled back step Prepare/.test(l)), JSON.stringify(failed.stepLogs));
  assert.ok(failed.error && failed.error.message, JSON.stringify(failed));
  assert.equal((await sse.getTask(failing.taskId)).status, 'failed');
  const lastId = Math.max(...failed.events.map(e => e.id));
  await sse.retry(failing.taskId);
  const retried = await follow(sse, failing.taskId, { after: lastId, recovering: true });
  assert.ok(retried.events.some(e => e.type === 'recovered'), JSON.stringify(retried.events.map(e => e.type)));
  assert.equal(retried.steps.flaky.status, 'completed', JSON.stringify(retried.events));
  assert.ok(retried.output, JSON.stringify(retried.events));
  assert.deepEqual(retried.output.text[0].content, 'done world');
  await rejects(sse.retry(taskId), 409, 'ConflictError');

  // Cancel.
  const long = await sse.scaffold({ templateRef: 'template:default/backstage-waits', values: {} });
  const cancelling = follow(sse, long.taskId);
  await new Promise(r => setTimeout(r, 300));
  assert.deepEqual(await sse.cancelTask(long.taskId), { status: 'cancelled' });
  const cancelled = await cancelling;
  assert.ok(cancelled.error, JSON.stringify(cancelled));
  assert.equal((await sse.getTask(long.taskId)).status, 'cancelled');

  // Template secrets: used by the steps, never shown — not in an event, the task, its log or
  // its output — and required when the template says so.
  const secret = 'sekret-0123456789-abcdef';
  const withSecret = await sse.scaffold({ templateRef: 'template:default/backstage-secret', values: {}, secrets: { TOKEN: secret } });
  const used = await follow(sse, withSecret.taskId);
  assert.equal(used.steps.use.status, 'completed', JSON.stringify(used.events));
  assert.ok(used.logs.some(m => m.startsWith('calling as world with ')), JSON.stringify(used.logs));
  const shown = [JSON.stringify(used.events), JSON.stringify(await sse.getTask(withSecret.taskId)),
    await (await fetch(`${URL_}/api/v1/runs/${withSecret.taskId}`, { headers: { authorization: `Bearer ${process.env.ALICE_TOKEN}` } })).text(),
    JSON.stringify(await polling.listTasks({ filterByOwnership: 'owned' }))];
  for (const text of shown) assert.ok(!text.includes(secret), `the secret shows in ${text.slice(0, 2000)}`);
  assert.ok(used.output.text[0].content.startsWith('token '), JSON.stringify(used.output));
  report.secret_task = withSecret.taskId;
  const noSecret = await sse.scaffold({ templateRef: 'template:default/backstage-secret', values: {} }).catch(e => e);
  assert.match(String(noSecret), /400/);
  assert.match(String(noSecret), /needs the secret TOKEN/);

  // Dry run: the template inline, nothing stored.
  // The template entity as a portal holds it (the test writes backstage-hello.yaml as JSON).
  const entity = JSON.parse(fs.readFileSync(process.env.DRY_TEMPLATE, 'utf8'));
  // The dry run renders the skeleton it is given into a throwaway workspace, as Backstage's
  // does, and answers that workspace; it creates no task.
  entity.spec.steps.unshift({ id: 'fetch', name: 'Fetch the skeleton', action: 'fetch:template', input: { url: './skeleton', values: { name: '${{ parameters.name }}' } } });
  entity.spec.steps.push({ id: 'publish', name: 'Publish', action: 'publish:github', input: { repoUrl: 'github.com?owner=acme&repo=${{ parameters.name }}' } });
  entity.spec.output.text.push({ title: 'Fetched', content: '${{ steps.greet.output.message }}' });
  const tasksBefore = (await sse.listTasks({ filterByOwnership: 'all' })).totalTasks;
  const b64 = text => Buffer.from(text).toString('base64');
  const dry = await sse.dryRun({ template: entity, values: { name: 'dry' }, directoryContents: [{ path: 'skeleton/${{ values.name }}.md', base64Content: b64('# ${{ values.name }}\n') }] });
  assert.ok(dry.log.some(l => l.body.stepId === 'greet' && l.body.status === 'completed'), JSON.stringify(dry.log));
  assert.ok(dry.log.some(l => l.body.stepId === 'greet' && l.body.message === 'hello dry'), JSON.stringify(dry.log));
  assert.deepEqual(dry.output, { text: [{ title: 'Greeting', content: 'said hello to dry' }, { title: 'Fetched', content: 'hello dry' }] });
  assert.deepEqual(dry.directoryContents.map(f => [f.path, Buffer.from(f.base64Content, 'base64').toString()]), [['dry.md', '# dry\n']]);
  assert.equal((await sse.listTasks({ filterByOwnership: 'all' })).totalTasks, tasksBefore);
  // A template without an output answers an empty one, as Backstage's document asks.
  const bare = await sse.dryRun({ template: { apiVersion: 'scaffolder.backstage.io/v1beta3', kind: 'Template', metadata: { name: 'bare' }, spec: { steps: [{ id: 'say', action: 'debug:log', input: { message: 'hi' } }] } }, values: {}, directoryContents: [] });
  assert.deepEqual(bare.output, {});
  // A step that would act outside the workspace is not run: it says what it would do.
  const publish = dry.log.filter(l => l.body.stepId === 'publish').map(l => l.body.message).join('\n');
  assert.ok(publish.includes('Not run') && publish.includes('acme/dry'), publish);

  // Errors in Backstage's shape.
  await rejects(sse.getTask('no-such-task'), 404, 'NotFoundError');
  await rejects(client('not-a-token', false).getTask(taskId), 401, 'AuthenticationError');
  await rejects(sse.autocomplete({ token: 't', provider: 'github', resource: 'repositories', context: {} }), 400, 'InputError');

  fs.writeFileSync(process.env.EXCHANGES, JSON.stringify(exchanges, null, 1));
  console.log(JSON.stringify(report));
})().catch(e => {
  if (process.env.EXCHANGES) fs.writeFileSync(process.env.EXCHANGES, JSON.stringify(exchanges, null, 1));
  console.error(e);
  process.exit(1);
});
