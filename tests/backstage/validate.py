"""Validates every answer drive.cjs recorded against Backstage's scaffolder OpenAPI document
(scaffolder-openapi.json) with openapi-core (PyPI). An error status the document does not list
for a route is checked against its `Error` schema: Backstage answers every error in that shape.

    python3 validate.py scaffolder-openapi.json exchanges.json
"""

import json
import sys
from urllib.parse import urlsplit, parse_qs

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS31Validator

BASE = "/api/scaffolder"


def main(spec_path, exchanges_path):
    spec = json.load(open(spec_path))
    openapi = OpenAPI.from_dict(spec)
    error_schema = {"$ref": "#/components/schemas/Error", "components": spec["components"]}
    failures = []
    exchanges = json.load(open(exchanges_path))
    for exchange in exchanges:
        url = urlsplit(exchange["url"])
        assert url.path.startswith(BASE), url.path
        path = url.path[len(BASE):]
        request = MockRequest(
            f"{url.scheme}://{url.netloc}",
            exchange["method"].lower(),
            path,
            args={k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()},
        )
        content_type = exchange["contentType"] or "application/json"
        response = MockResponse(
            exchange["body"].encode(), status_code=exchange["status"], content_type=content_type
        )
        where = f'{exchange["method"]} {path} -> {exchange["status"]}'
        try:
            openapi.validate_response(request, response)
        except Exception as error:  # noqa: BLE001 - the report names every kind
            listed = str(exchange["status"]) in responses_of(spec, openapi, request)
            if exchange["status"] >= 400 and not listed:
                errors = list(OAS31Validator(error_schema).iter_errors(json.loads(exchange["body"])))
                if errors:
                    failures.append(f"{where}: not Backstage's error shape: {errors[0].message}")
                continue
            failures.append(f"{where}: {error!r} {getattr(error, '__cause__', '')!r}")
    print(f"{len(exchanges)} answers checked, {len(failures)} failed")
    for failure in failures:
        print(" ", failure)
    return 1 if failures else 0


def responses_of(spec, openapi, request):
    """The statuses the document lists for the request's operation."""
    path = request.path
    for pattern, item in spec["paths"].items():
        parts, got = pattern.strip("/").split("/"), path.strip("/").split("/")
        if len(parts) == len(got) and all(p.startswith("{") or p == g for p, g in zip(parts, got)):
            operation = item.get(request.method.lower(), {})
            return set(operation.get("responses", {}).keys()) - {"default"}
    return set()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
