"""A team's own two services, standard library only: `catalog` serves /items by asking
`inventory` for stock; the walkthrough (docs/WALKTHROUGH.md) puts them under test.

    python service.py inventory --port 9001
    python service.py catalog --port 9000 --inventory http://127.0.0.1:9001

catalog answers GET /items with the stock it got from inventory (timeout 500 ms; if
inventory does not answer in time, 503), GET /health always. inventory answers GET /stock.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOCK = {"apples": 12, "pears": 4, "plums": 0}


def make_handler(role: str, inventory: str | None, timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, {"ok": True, "role": role})
            elif role == "inventory" and self.path == "/stock":
                self._answer(200, STOCK)
            elif role == "catalog" and self.path == "/items":
                try:
                    with urllib.request.urlopen(f"{inventory}/stock", timeout=timeout) as answer:
                        stock = json.load(answer)
                except (OSError, urllib.error.URLError, ValueError) as error:
                    self._answer(503, {"error": f"inventory: {error}"})
                    return
                self._answer(200, [{"item": k, "in_stock": v > 0} for k, v in stock.items()])
            else:
                self._answer(404, {"error": "not found"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["catalog", "inventory"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--inventory", help="inventory's base URL (catalog only)")
    parser.add_argument("--timeout", type=float, default=0.5)
    args = parser.parse_args()
    handler = make_handler(args.role, args.inventory, args.timeout)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
