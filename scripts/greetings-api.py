#!/usr/bin/env python3
"""A stand-in for the greetings API the `lever plugin new` worked example calls, for trying a new
plugin on a local server: `GET /greeting?name=NAME` with `Authorization: Bearer TOKEN` answers
`{"greeting": "hello NAME"}`; any other token gets 401.

    ./scripts/greetings-api.py --port 8088 --token try-me
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--token", default="try-me")
    args = parser.parse_args()

    class Greetings(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlparse(self.path)
            if url.path != "/greeting":
                return self.answer(404, {"error": f"no {url.path} here: GET /greeting?name=NAME"})
            if self.headers.get("authorization") != f"Bearer {args.token}":
                return self.answer(401, {"error": "bad token"})
            name = parse_qs(url.query).get("name", ["world"])[0]
            self.answer(200, {"greeting": f"hello {name}"})

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    print(f"greetings API on http://127.0.0.1:{args.port} (token {args.token})", flush=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), Greetings).serve_forever()


if __name__ == "__main__":
    main()
