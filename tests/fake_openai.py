"""A fake OpenAI-compatible `/completions` server on 127.0.0.1 that injects faults: each
request takes the next mode from a script (then the last mode for ever). Modes: ok, slow (ok
after 0.2 s), 500, 400, hang, garbage, reset, truncated (headers sent, then the connection dies
mid-body, as when the server is killed while replying), negative (completion_tokens = -50),
missing (no usage). It speaks HTTP/1.1 with keep-alive, as `vllm serve` does, and counts the
requests it served, the most it had in flight at once and the connections they came on, and
keeps the last request's Authorization header."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    def __init__(self, *modes: str, text: str = "3 + 4 = 7\nThe answer is 7\n") -> None:
        self.modes, self.text, self.served = list(modes) or ["ok"], text, 0
        self.in_flight, self.most_in_flight, self.connections = 0, 0, set()
        self.authorization: str | None = None
        self._lock, self._release = threading.Lock(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as uvicorn (asyncio) does: no 40 ms delayed-ACK stall per reply

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.authorization = self.headers.get("Authorization")
                server.enter(self.client_address)
                try:
                    server.answer(self, server.next_mode(), body)
                finally:
                    server.leave()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def next_mode(self) -> str:
        with self._lock:
            self.served += 1
            return self.modes.pop(0) if len(self.modes) > 1 else self.modes[0]

    def enter(self, client: tuple[str, int]) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.connections.add(client)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def answer(self, handler: BaseHTTPRequestHandler, mode: str, body: dict) -> None:
        if mode == "hang":
            self._release.wait(120)
            handler.close_connection = True
            return
        if mode == "slow":
            time.sleep(0.2)
        if mode == "reset":
            handler.connection.shutdown(2)
            handler.close_connection = True
            return
        if mode in ("500", "400"):
            self._send(handler, int(mode), b'{"error": {"message": "injected failure ' + mode.encode() + b'"}}')
            return
        if mode == "truncated":  # promises 616 bytes, sends none, hangs up
            self._send(handler, 200, b"", length=616)
            handler.wfile.flush()
            handler.connection.shutdown(2)
            handler.close_connection = True
            return
        if mode == "garbage":
            self._send(handler, 200, b"<html>proxy says hello</html>")
            return
        usage = {"completion_tokens": 7, "prompt_tokens": 11, "prompt_tokens_details": {"cached_tokens": 0}}
        if mode == "negative":
            usage["completion_tokens"] = -50
        reply = {"choices": [{"text": self.text, "finish_reason": "stop", "stop_reason": None}], "usage": usage}
        if mode == "missing":
            del reply["usage"]
        self._send(handler, 200, json.dumps(reply).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, length: int | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload) if length is None else length))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
