#!/usr/bin/env python3
"""A local OpenAI-compatible chat-completions server for laneway's tests.

Python standard library only (http.server + threading). Listens on 127.0.0.1 on an
ephemeral port, prints "PORT <n>" on stdout once it accepts connections and, with
--port-file, writes the port there (atomically, by rename).

Each POST to a path ending in /chat/completions takes the next response from the
script (--script FILE, a JSON array, or POST /_control/script with one;
POST /_control/reset forgets the script and the recorded requests); when the
script is used up it answers the default: a streamed "echo: <last user message>".
Every request is recorded (method, path, headers with lower-case names, body) in
memory (GET /_control/requests) and, with --record FILE, as one JSON line per
request, written before the response starts.

A response spec (every field optional):
  status         HTTP status (200)
  headers        extra response headers, e.g. {"Retry-After": "1"}
  error          for non-200: {"message", "type", "code"} sent as {"error": {...}}
  body_text      the raw body instead (any status)
  mode           "stream" (SSE, default) | "plain" (one chat.completion JSON)
                 | "raw" (the strings in "raw" written as body chunks, as they are)
  content        the reply: a list of deltas (stream) or a string; default echoes
  model          the model named in the answer (default: the one asked for)
  dialect        "openai" (usage chunk when asked) | "ollama" (no usage at all)
                 | "llamacpp" (usage as "timings" in the last chunk)
  delay_head_ms  wait before the status line
  delay_first_ms wait after the headers, before the first content delta
  delay_ms       wait between deltas (a trickle)
  keepalive      send ": keep-alive" comment events between deltas
  fragment       write each event in pieces of this many bytes (tests chunk cuts)
  drop_after     close the connection abruptly after this many deltas
  gate_after     after this many deltas, hold the rest until the file named by
  gate_file      exists (tests see the first deltas while the turn still runs)
  no_done        do not send "data: [DONE]"
  times          use this spec this many times (1)

For the chaos soak (docs/soak.md): --chaos RATE (0 to 1) answers that share of the
requests that find no script with a fault drawn from CHAOS_FAULTS (a retried 500, a
429 with Retry-After, an exhausted quota, a 401, a stream cut after two deltas, a
malformed stream, a fast and a slow trickle, a first token 9 s late), seeded by
--seed. Under --chaos every answer also checks that each user message of the
request names the same "sess=<name>" as the last one: a replayed history of
another session is answered "history-mismatch: ..." instead of the echo.
--forget keeps no request in memory (the record file still gets them), so a long
soak does not grow the double.
"""

import argparse
import json
import os
import random
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SCRIPT = []
REQUESTS = []
RECORD_PATH = None
FORGET = False
CHAOS_RATE = 0.0
CHAOS_RNG = random.Random(1)
CHAOS_FAULTS = [
    {"status": 500, "error": {"message": "chaos: internal error", "type": "server_error"}},
    {"status": 429, "headers": {"Retry-After": "1"},
     "error": {"message": "chaos: rate limited", "type": "requests", "code": "rate_limit_exceeded"}},
    {"status": 429, "error": {"message": "chaos: quota", "type": "insufficient_quota",
                              "code": "insufficient_quota"}},
    {"status": 401, "error": {"message": "chaos: bad key", "type": "invalid_request_error",
                              "code": "invalid_api_key"}},
    {"drop_after": 2},
    {"mode": "raw", "raw": ["data: {not json\n\n", "data: [DONE]\n\n"]},
    {"delay_ms": 60},
    {"delay_ms": 2000},
    {"delay_first_ms": 9000},
]
SESS_RE = re.compile(r"sess=([^ .]+)")


def next_spec():
    with LOCK:
        while SCRIPT:
            spec = SCRIPT[0]
            times = spec.get("times", 1)
            if times <= 1:
                SCRIPT.pop(0)
            else:
                spec["times"] = times - 1
            return dict(spec)
        if CHAOS_RATE > 0 and CHAOS_RNG.random() < CHAOS_RATE:
            return dict(CHAOS_RNG.choice(CHAOS_FAULTS))
    return {}


def history_mismatch(body):
    """Under --chaos: the first user message naming another session than the last."""
    users = [str(m.get("content", "")) for m in body.get("messages", [])
             if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return None
    want = SESS_RE.findall(users[-1])
    for u in users[:-1]:
        got = SESS_RE.findall(u)
        if got != want:
            return "history-mismatch: %s in the history of %s" % (got, want)
    return None


def record(entry):
    with LOCK:
        if not FORGET:
            REQUESTS.append(entry)
        if RECORD_PATH:
            with open(RECORD_PATH, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
                f.flush()


def last_user_message(body):
    try:
        for m in reversed(body.get("messages", [])):
            if m.get("role") == "user":
                return str(m.get("content", ""))
    except AttributeError:
        pass
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Like real servers: without it, Nagle's algorithm and the client's delayed
        # ACK hold each small SSE write on a kept-alive connection for 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/_control/requests":
            with LOCK:
                reqs = list(REQUESTS)
            self.send_json(200, reqs)
        else:
            self.send_json(404, {"error": {"message": "no route " + self.path}})

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/_control/script":
            with LOCK:
                SCRIPT[:] = json.loads(raw or b"[]")
            self.send_json(200, {"ok": True})
            return
        if self.path == "/_control/reset":
            with LOCK:
                SCRIPT[:] = []
                REQUESTS[:] = []
                if RECORD_PATH:
                    open(RECORD_PATH, "w").close()
            self.send_json(200, {"ok": True})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record({
            "method": "POST",
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "peer_port": self.client_address[1],
            "ts": time.time(),
        })
        if not self.path.endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": "unknown path " + self.path}})
            return
        spec = next_spec()
        self.answer(spec, body if isinstance(body, dict) else {})

    # --- answers ---

    def answer(self, spec, req):
        time.sleep(spec.get("delay_head_ms", 0) / 1000.0)
        status = spec.get("status", 200)
        extra = spec.get("headers", {})
        model = spec.get("model", req.get("model", "double"))
        if "body_text" in spec:
            data = spec["body_text"].encode()
            self.send_response(status)
            self.send_header("Content-Type", spec.get("content_type", "text/plain"))
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            return
        if status != 200:
            err = spec.get("error", {"message": "error %d" % status, "type": "double"})
            self.send_json(status, {"error": err}, extra)
            return
        content = spec.get("content")
        if content is None:
            text = "echo: " + last_user_message(req)
            if CHAOS_RATE > 0:
                text = history_mismatch(req) or text
            words = text.split(" ")
            content = [w + (" " if i + 1 < len(words) else "") for i, w in enumerate(words)]
        mode = spec.get("mode", "stream")
        if mode == "plain" or (mode == "stream" and req.get("stream") is False):
            text = content if isinstance(content, str) else "".join(content)
            self.send_json(200, {
                "id": "chatcmpl-double", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens(req),
                          "completion_tokens": len(text.split())},
            }, extra)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            if mode == "raw":
                for piece in spec.get("raw", []):
                    self.chunk(piece.encode())
                    time.sleep(spec.get("delay_ms", 0) / 1000.0)
            else:
                self.stream(spec, req, model, list(content))
            if spec.get("drop_after") is not None:
                self.drop()
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def stream(self, spec, req, model, deltas):
        dialect = spec.get("dialect", "openai")
        frag = spec.get("fragment", 0)
        created = int(time.time())

        def event(obj):
            data = ("data: " + json.dumps(obj, ensure_ascii=False) + "\n\n").encode()
            if frag:
                for i in range(0, len(data), frag):
                    self.chunk(data[i:i + frag])
            else:
                self.chunk(data)

        def chunk_obj(delta, finish=None):
            return {"id": "chatcmpl-double", "object": "chat.completion.chunk",
                    "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        if dialect != "ollama":
            event(chunk_obj({"role": "assistant", "content": ""}))
        time.sleep(spec.get("delay_first_ms", 0) / 1000.0)
        drop_after = spec.get("drop_after")
        for i, d in enumerate(deltas):
            if drop_after is not None and i >= drop_after:
                return
            if i > 0:
                time.sleep(spec.get("delay_ms", 0) / 1000.0)
            if spec.get("gate_file") and i == spec.get("gate_after", 1):
                deadline = time.time() + 60
                while not os.path.exists(spec["gate_file"]) and time.time() < deadline:
                    time.sleep(0.01)
            if spec.get("keepalive"):
                self.chunk(b": keep-alive\n\n")
            event(chunk_obj({"content": d}))
        if drop_after is not None:
            return
        last = chunk_obj({}, "stop")
        usage = {"prompt_tokens": prompt_tokens(req), "completion_tokens": len(deltas)}
        if dialect == "llamacpp":
            last["timings"] = {"prompt_n": usage["prompt_tokens"],
                               "predicted_n": usage["completion_tokens"]}
        event(last)
        wants_usage = (req.get("stream_options") or {}).get("include_usage")
        if dialect == "openai" and wants_usage:
            event({"id": "chatcmpl-double", "object": "chat.completion.chunk",
                   "created": created, "model": model, "choices": [], "usage": usage})
        if not spec.get("no_done"):
            self.chunk(b"data: [DONE]\n\n")

    def chunk(self, data):
        if not data:
            return
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def drop(self):
        self.close_connection = True
        try:
            self.wfile.flush()
            # No terminating chunk: the client sees the body cut short.
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a hundred sessions connect at once

    def handle_error(self, request, client_address):
        # A client that went away (a killed worker, a dropped test) is no news.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, OSError)):
            return
        super().handle_error(request, client_address)


def prompt_tokens(req):
    n = 0
    for m in req.get("messages", []) if isinstance(req.get("messages"), list) else []:
        n += len(str(m.get("content", "")).split())
    return n


def main():
    global RECORD_PATH
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file")
    ap.add_argument("--script")
    ap.add_argument("--record")
    ap.add_argument("--chaos", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--forget", action="store_true")
    args = ap.parse_args()
    global FORGET, CHAOS_RATE
    FORGET = args.forget
    CHAOS_RATE = args.chaos
    CHAOS_RNG.seed(args.seed)
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            SCRIPT[:] = json.load(f)
    RECORD_PATH = args.record
    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
