"""One blocking HTTP call through `wasi:http/outgoing-handler`.

The host only lets it reach hosts granted to the plugin; anything else raises `ActionError`
of kind `denied`. Python's own `urllib` needs sockets, which the sandbox does not give.
"""

import json as _json
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from componentize_py_types import Ok, Err
from wit_world.imports import outgoing_handler as _out
from wit_world.imports import wasi_http_types as _h
from wit_world.imports.streams import StreamError_Closed

from .errors import ActionError

_METHODS = {
    "GET": _h.Method_Get, "HEAD": _h.Method_Head, "POST": _h.Method_Post,
    "PUT": _h.Method_Put, "DELETE": _h.Method_Delete, "PATCH": _h.Method_Patch,
    "OPTIONS": _h.Method_Options,
}


@dataclass
class Response:
    """A whole response."""

    status: int
    headers: list = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)

    def text(self) -> str:
        """The body as UTF-8 text."""
        return self.body.decode("utf-8", "replace")


def request(method: str, url: str, headers: Optional[dict] = None, body: bytes = b"",
            json: Any = None) -> Response:
    """Sends one request and reads the whole response. `json=` sends a JSON body."""
    if json is not None:
        body = _json.dumps(json).encode()
        headers = {"content-type": "application/json", **(headers or {})}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ActionError.invalid_input(f"`{url}` is not an absolute http(s) URL")
    fields = _h.Fields.from_list([(k.lower(), str(v).encode()) for k, v in (headers or {}).items()])
    req = _h.OutgoingRequest(fields)
    m = method.upper()
    req.set_method(_METHODS[m]() if m in _METHODS else _h.Method_Other(m))
    req.set_scheme(_h.Scheme_Https() if parts.scheme == "https" else _h.Scheme_Http())
    req.set_authority(parts.netloc)
    req.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    outgoing = req.body()
    try:
        future = _out.handle(req, None)
    except Err as e:
        raise _error(url, e.value)
    stream = outgoing.write()
    for i in range(0, len(body), 4096):
        stream.blocking_write_and_flush(body[i:i + 4096])
    stream.__exit__(None, None, None)
    _h.OutgoingBody.finish(outgoing, None)
    while True:
        answer = future.get()
        if answer is not None:
            break
        future.subscribe().block()
    if isinstance(answer, Err) or isinstance(answer.value, Err):
        raise _error(url, answer.value.value if isinstance(answer, Ok) else answer.value)
    response = answer.value.value
    status, headers_out = response.status(), response.headers().entries()
    incoming = response.consume()
    chunks = []
    input_stream = incoming.stream()
    while True:
        try:
            chunks.append(input_stream.blocking_read(64 * 1024))
        except Err as e:
            if isinstance(e.value, StreamError_Closed):
                break
            raise ActionError.retryable(f"{method} {url}: the response body broke off")
    return Response(status, [(k, v.decode("latin-1")) for k, v in headers_out], b"".join(chunks))


def _error(url: str, code: Any) -> ActionError:
    if isinstance(code, _h.ErrorCode_HttpRequestDenied):
        return ActionError.denied(
            f"the host refused the request to {url}: this plugin was not granted that host")
    return ActionError.retryable(f"the request to {url} failed: {type(code).__name__}")


def get(url: str, headers: Optional[dict] = None) -> Response:
    """`GET url`."""
    return request("GET", url, headers)


def post(url: str, json: Any = None, headers: Optional[dict] = None) -> Response:
    """`POST url` with a JSON body."""
    return request("POST", url, headers, json=json)
