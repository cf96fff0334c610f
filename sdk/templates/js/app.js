// `{{name}}`: asks a greetings API for a greeting, with a granted token.

import { action, log, secrets, ActionError } from "./sdk/js/lever-sdk.js";

export const actionHandler = action({
  name: "{{name}}",
  version: "0.1.0",
  description: "Asks a greetings API for a greeting",
  inputSchema: {
    type: "object",
    properties: {
      name: { type: "string", description: "Who to greet." },
      api_url: {
        type: "string",
        description: "The greetings API (its host must be granted).",
        default: "https://greetings.example.com",
      },
    },
    required: ["name"],
    additionalProperties: false,
  },
  outputSchema: {
    type: "object",
    properties: { greeting: { type: "string" } },
    required: ["greeting"],
  },
  hosts: ["greetings.example.com"],
  secrets: ["greetings-token"],

  async run(ctx, input) {
    log.progress(10, "asking for a greeting");
    const token = secrets.reveal("greetings-token");
    const api = (input.api_url ?? "https://greetings.example.com").replace(/\/+$/, "");
    const url = `${api}/greeting?name=${input.name}`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (response.status === 429 || response.status >= 500) {
      throw ActionError.retryable(`${url} answered ${response.status}: try again later`);
    }
    if (response.status !== 200) {
      throw ActionError.fatal(
        `${url} answered ${response.status}: check the token \`greetings-token\` and the API URL`,
      );
    }
    const { greeting = "" } = await response.json();
    log.info(`run ${ctx.runId}: ${greeting}`);
    log.progress(100, "greeted");
    return { greeting };
  },
});
