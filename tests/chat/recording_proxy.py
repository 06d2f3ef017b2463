"""A pass-through proxy in front of the real model server that keeps every request body.

Nothing is simulated: each request goes to the real llama.cpp server and its streamed
answer comes back chunk by chunk. The test reads `bodies` to see exactly what the
sidecar received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RecordingProxy

    def log_message(self, *args) -> None:
        return

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw:
            self.server.bodies.append(json.loads(raw))
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        with (
            httpx.Client(timeout=120) as client,
            client.stream(
                method, self.server.target + self.path, content=raw, headers=headers
            ) as upstream,
        ):
            self.send_response(upstream.status_code)
            self.send_header(
                "Content-Type", upstream.headers.get("content-type", "application/json")
            )
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in upstream.iter_raw():
                self.wfile.write(chunk)
                self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")


class RecordingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target_url: str):
        """`target_url` is the model server's root (without /v1)."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.target = target_url.rstrip("/")
        self.bodies: list[dict] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def text_sent(self) -> str:
        """Everything the model was given, as one string."""
        return json.dumps(self.bodies)
