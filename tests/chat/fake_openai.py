"""Scripted stand-ins for an OpenAI-compatible server, for failures a real one won't stage.

`FakeOpenAI` answers each POST /v1/chat/completions with the next scripted `Reply` (the
last one repeats) and keeps every request body. `SilentServer` accepts connections and
never answers a byte.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    tokens: list[str] = field(default_factory=lambda: ["Hello", " there", "."])
    status: int = 200
    error_message: str = "boom"
    delay_before_first_s: float = 0.0
    delay_between_s: float = 0.0
    finish_reason: str = "stop"
    usage: bool = True
    # After this many tokens: "hang" (stop sending, keep the connection), "drop" (close it).
    fail_after: int | None = None
    failure: str = "hang"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # keep test output clean
        return

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        reply = self.server.next_reply(body)
        if reply.status != 200:
            self._json(reply.status, {"error": {"message": reply.error_message, "code": None}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        time.sleep(reply.delay_before_first_s)
        for index, token in enumerate(reply.tokens):
            if reply.fail_after is not None and index == reply.fail_after:
                if reply.failure == "hang":
                    self.server.stopped.wait(30)
                return  # "drop": the connection closes without an end
            if index:
                time.sleep(reply.delay_between_s)
            try:
                self._event({"choices": [{"index": 0, "delta": {"content": token}}]})
            except (BrokenPipeError, ConnectionResetError):
                self.server.disconnects += 1
                return
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
        if reply.usage:
            usage = {"prompt_tokens": 11, "completion_tokens": len(reply.tokens)}
            self._event({"choices": [], "usage": {**usage, "total_tokens": 11 + len(reply.tokens)}})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: int, data: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies: list[Reply]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies) or [Reply()]
        self.requests: list[dict] = []
        self.disconnects = 0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def next_reply(self, body: dict) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


class FakeOpenAI:
    def __init__(self, *replies: Reply):
        self._server = _Server(list(replies))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests

    @property
    def disconnects(self) -> int:
        return self._server.disconnects

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stopped.set()
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections and never replies: the stuck server a timeout is for."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)  # the kernel completes handshakes; nobody ever reads

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
