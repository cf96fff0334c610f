// `{{name}}`: a provider adapter implementing the `notifier` capability over a chat API
// (`POST {base_url}/messages` with a bearer token).

import { adapter, log, secret, unsupported, ActionError } from "./sdk/js/lever-sdk.js";

export const adapterHandler = adapter({
  name: "{{name}}",
  version: "0.1.0",
  description: "Sends notifier messages to a chat API",
  capabilities: ["notifier"],
  // What a binding may set: `lever.yaml` → bindings.notifier.settings.
  settingsSchema: {
    type: "object",
    properties: {
      base_url: { type: "string", description: "The chat API (default https://chat.example.com)" },
      token: { type: "string", description: "secret://NAME of the API token" },
    },
    required: ["token"],
    additionalProperties: false,
  },
  hosts: ["chat.example.com"],

  async invoke(ctx, fn, settings, input) {
    if (fn !== "send") throw unsupported("{{name}}", fn);
    // The binding refers to the token as `secret://NAME`; the host grants exactly that name.
    const token = secret(settings, "token");
    const base = (settings.base_url ?? "https://chat.example.com").replace(/\/+$/, "");
    log.progress(10, `sending \`${input.subject}\` to ${input.to}`);
    const url = `${base}/messages`;
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        channel: input.to,
        subject: input.subject,
        text: input.text,
        links: input.links.map(({ label, url }) => ({ label, url })),
        idempotency_key: ctx.idempotencyKey,
      }),
    });
    if (response.status === 429 || response.status >= 500) {
      throw ActionError.retryable(`${url} answered ${response.status}: try again later`);
    }
    if (response.status === 401 || response.status === 403) {
      throw ActionError.denied(
        `${url} answered ${response.status}: check the token the binding's \`token\` refers to`,
      );
    }
    if (response.status !== 200 && response.status !== 201) {
      throw ActionError.fatal(`${url} answered ${response.status}`);
    }
    const { id } = await response.json();
    if (typeof id !== "string") throw ActionError.fatal(`${url} answered without an \`id\``);
    // `send` returns the provider's id for the message.
    return id;
  },
});
