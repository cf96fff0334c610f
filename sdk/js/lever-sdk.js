// Lever's JavaScript SDK: write an action as one object with typed input and output.
//
//   import { action, log, secrets, ActionError } from "./sdk/js/lever-sdk.js";
//   export const actionHandler = action({
//     name: "hello", version: "0.1.0", description: "Says hello",
//     inputSchema: { type: "object" }, outputSchema: { type: "object" },
//     async run(ctx, input) { log.info(`hello ${input.name}`); return { greeting: "hi" }; },
//   });
//
// componentize-js looks for the `actionHandler` export (the WIT interface `action-handler`).
// `hosts`, `secrets` (grants the action asks for), `risk: "high"`, `undoable`, `plan` and
// `rollback` are optional, as in the Rust SDK's `#[action]`. Outbound HTTP is the global
// `fetch`, which reaches only the hosts granted to the action.

import { log as hostLog, report } from "lever:host/progress@0.1.0";
import { Secret } from "lever:host/secrets@0.1.0";
import * as hostState from "lever:host/state@0.1.0";

const KINDS = ["invalid-input", "retryable", "fatal", "not-found", "denied", "other"];

/** The WIT `error` variant: a kind and a message that says what to fix. */
export class ActionError extends Error {
  constructor(kind, message) {
    if (!KINDS.includes(kind)) {
      throw new TypeError(`kind must be one of ${KINDS.join(", ")}, not ${kind}`);
    }
    super(message);
    this.kind = kind;
    // componentize-js reads a thrown error's variant from `tag` and `val`.
    this.tag = kind;
    this.val = message;
  }
  /** The input is wrong: name the field and what is expected. */
  static invalidInput(message) { return new ActionError("invalid-input", message); }
  /** A transient failure: the host may retry. */
  static retryable(message) { return new ActionError("retryable", message); }
  /** A permanent failure: retrying will not help. */
  static fatal(message) { return new ActionError("fatal", message); }
  /** Something the action needed does not exist. */
  static notFound(message) { return new ActionError("not-found", message); }
  /** The provider or the host refused. */
  static denied(message) { return new ActionError("denied", message); }
}

/** Log lines and progress, streamed to the run page (masked by the host). */
export const log = {
  debug: (message) => hostLog("debug", String(message)),
  info: (message) => hostLog("info", String(message)),
  warn: (message) => hostLog("warn", String(message)),
  error: (message) => hostLog("error", String(message)),
  /** The step's progress: `percent` from 0 to 100 and a short message. */
  progress: (percent, message) =>
    report(Math.max(0, Math.min(100, Math.round(percent))), String(message)),
};

function hostError(e) {
  return e && e.payload !== undefined ? e.payload : { tag: "other", val: String(e) };
}

/** Secrets the action was granted; each reveal is recorded by name in the run log. */
export const secrets = {
  reveal(name) {
    try {
      return Secret.open(name).reveal();
    } catch (e) {
      const { tag, val } = hostError(e);
      if (tag === "not-granted") throw ActionError.denied(`secret \`${name}\` is not granted: ${val}`);
      if (tag === "not-found") throw ActionError.notFound(`secret \`${name}\` does not exist: ${val}`);
      throw new ActionError("other", `secret \`${name}\`: ${val}`);
    }
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Durable key-value state, per run (`"run"`) or per plugin (`"plugin"`); values are text. */
export const state = {
  get(key, scope = "run") {
    const value = hostState.get(scope, key);
    return value === undefined || value === null ? undefined : decoder.decode(value);
  },
  set(key, value, scope = "run") {
    hostState.set(scope, key, encoder.encode(String(value)));
  },
  delete(key, scope = "run") {
    hostState.delete(scope, key);
  },
};

function context(ctx) {
  return { ...ctx };
}

async function guarded(fn, ...args) {
  try {
    return await fn(...args);
  } catch (e) {
    if (e instanceof ActionError) throw e;
    // An unexpected bug still reaches the run log with its type.
    throw new ActionError("other", `${e && e.name ? e.name : "Error"}: ${e && e.message ? e.message : e}`);
  }
}

/** Throws a TypeError naming the first of `fields` the definition leaves out. */
function requireFields(what, definition, fields) {
  for (const field of fields) {
    if (definition[field] === undefined) throw new TypeError(`${what}(): \`${field}\` is required`);
  }
}

/** Builds the `action-handler` export from one definition object. */
export function action(definition) {
  requireFields("action", definition, ["name", "version", "description", "inputSchema", "outputSchema", "run"]);
  const risk = definition.risk ?? "standard";
  if (risk !== "standard" && risk !== "high") {
    throw new TypeError(`action(): risk is "standard" or "high", not ${risk}`);
  }
  return {
    describe() {
      return {
        name: definition.name,
        version: definition.version,
        description: definition.description,
        inputSchema: JSON.stringify(definition.inputSchema),
        outputSchema: JSON.stringify(definition.outputSchema),
        grants: {
          hosts: definition.hosts ?? [],
          secrets: definition.secrets ?? [],
          workspace: definition.workspace ?? false,
        },
        risk,
        undoable: definition.undoable ?? definition.rollback !== undefined,
      };
    },
    async plan(ctx, input) {
      if (!definition.plan) return undefined;
      const plan = await guarded(definition.plan, context(ctx), JSON.parse(input));
      if (!plan) return undefined;
      return {
        summary: plan.summary,
        resources: (plan.resources ?? []).map((r) => ({
          kind: r.kind,
          name: r.name,
          change: r.change ?? "create",
          monthlyCostCents: r.monthlyCostCents === undefined ? undefined : BigInt(r.monthlyCostCents),
        })),
        permissions: plan.permissions ?? [],
      };
    },
    async run(ctx, input) {
      return JSON.stringify(await guarded(definition.run, context(ctx), JSON.parse(input)));
    },
    async rollback(ctx, input, output) {
      if (definition.rollback) {
        await guarded(definition.rollback, context(ctx), JSON.parse(input), JSON.parse(output));
      }
    },
  };
}

/**
 * Builds the `adapter-handler` export of a provider adapter from one definition object:
 *
 *   export const adapterHandler = adapter({
 *     name: "chat", version: "0.1.0", description: "Messages to a chat API",
 *     capabilities: ["notifier"], settingsSchema: { type: "object" }, hosts: ["chat.example.com"],
 *     async invoke(ctx, fn, settings, input) { ... return "message-id"; },
 *   });
 *
 * The host calls `invoke` with a capability function's name (`send`), the binding's settings
 * and the function's input (records of wit/capabilities.wit as objects); the value returned is
 * the function's result. componentize-js looks for the `adapterHandler` export, and
 * `lever plugin build` then builds the `adapter` world.
 */
export function adapter(definition) {
  requireFields("adapter", definition, ["name", "version", "description", "capabilities", "settingsSchema", "invoke"]);
  return {
    describe() {
      return {
        name: definition.name,
        version: definition.version,
        description: definition.description,
        capabilities: definition.capabilities,
        settingsSchema: JSON.stringify(definition.settingsSchema),
        grants: { hosts: definition.hosts ?? [], secrets: definition.secrets ?? [], workspace: false },
      };
    },
    async invoke(ctx, fn, settings, input) {
      const result = await guarded(definition.invoke, context(ctx), fn, JSON.parse(settings), JSON.parse(input));
      return JSON.stringify(result);
    },
  };
}

/** The error for a capability function the adapter does not implement. */
export function unsupported(adapterName, fn) {
  return ActionError.invalidInput(`the ${adapterName} adapter does not implement \`${fn}\``);
}

/**
 * Reveals the secret a binding setting refers to (`secret://name`); an inline value is refused,
 * so a credential never sits in the configuration file.
 */
export function secret(settings, key) {
  const reference = settings[key];
  if (typeof reference !== "string") throw ActionError.invalidInput(`the binding settings need \`${key}\``);
  if (!reference.startsWith("secret://")) {
    throw ActionError.invalidInput(
      `the binding setting \`${key}\` must be a secret reference (\`secret://name\`), not a value`,
    );
  }
  return secrets.reveal(reference.slice("secret://".length));
}
