"""`{{name}}`: asks a greetings API for a greeting, with a granted token."""

from lever_sdk import ActionError, ActionHandler, action, http, log, secrets  # noqa: F401

INPUT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Who to greet."},
        "api_url": {
            "type": "string",
            "description": "The greetings API (its host must be granted).",
            "default": "https://greetings.example.com",
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}
OUTPUT = {
    "type": "object",
    "properties": {"greeting": {"type": "string"}},
    "required": ["greeting"],
}


@action(name="{{name}}", version="0.1.0", description="Asks a greetings API for a greeting",
        input_schema=INPUT, output_schema=OUTPUT,
        hosts=["greetings.example.com"], secrets=["greetings-token"])
def run(ctx, input):
    log.progress(10, "asking for a greeting")
    token = secrets.reveal("greetings-token")
    api = input.get("api_url", "https://greetings.example.com").rstrip("/")
    url = f"{api}/greeting?name={input['name']}"
    response = http.get(url, headers={"authorization": f"Bearer {token}"})
    if response.status == 429 or response.status >= 500:
        raise ActionError.retryable(f"{url} answered {response.status}: try again later")
    if response.status != 200:
        raise ActionError.fatal(
            f"{url} answered {response.status}: check the token `greetings-token` and the API URL")
    greeting = response.json().get("greeting", "")
    log.info(f"run {ctx.run_id}: {greeting}")
    log.progress(100, "greeted")
    return {"greeting": greeting}
