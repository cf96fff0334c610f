"""`{{name}}`: a provider adapter implementing the `notifier` capability over a chat API
(`POST {base_url}/messages` with a bearer token)."""

from lever_sdk import ActionError, http, log
from lever_sdk.adapter import AdapterHandler, adapter, secret, unsupported  # noqa: F401

# What a binding may set: `lever.yaml` → bindings.notifier.settings.
SETTINGS = {
    "type": "object",
    "properties": {
        "base_url": {"type": "string",
                     "description": "The chat API (default https://chat.example.com)"},
        "token": {"type": "string", "description": "secret://NAME of the API token"},
    },
    "required": ["token"],
    "additionalProperties": False,
}


@adapter(name="{{name}}", version="0.1.0", description="Sends notifier messages to a chat API",
         capabilities=["notifier"], settings_schema=SETTINGS, hosts=["chat.example.com"])
def invoke(ctx, function, settings, input):
    if function != "send":
        raise unsupported("{{name}}", function)
    # The binding refers to the token as `secret://NAME`; the host grants exactly that name.
    token = secret(settings, "token")
    base = settings.get("base_url", "https://chat.example.com").rstrip("/")
    log.progress(10, f"sending `{input['subject']}` to {input['to']}")
    url = f"{base}/messages"
    body = {
        "channel": input["to"], "subject": input["subject"], "text": input["text"],
        "links": [{"label": link["label"], "url": link["url"]} for link in input["links"]],
        "idempotency_key": ctx.idempotency_key,
    }
    response = http.post(url, json=body, headers={"authorization": f"Bearer {token}"})
    if response.status == 429 or response.status >= 500:
        raise ActionError.retryable(f"{url} answered {response.status}: try again later")
    if response.status in (401, 403):
        raise ActionError.denied(
            f"{url} answered {response.status}: check the token the binding's `token` refers to")
    if response.status not in (200, 201):
        raise ActionError.fatal(f"{url} answered {response.status}")
    message_id = response.json().get("id")
    if not isinstance(message_id, str):
        raise ActionError.fatal(f"{url} answered without an `id`")
    # `send` returns the provider's id for the message.
    return message_id
