#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from the repo root).

Seeds are small valid inputs of each decoder, so that fuzzing starts from the
shapes laneway really reads; libFuzzer mutates from there. Re-running rewrites
the same files.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def mp(v):
    """A minimal msgpack encoder (maps, arrays, str, int, bool, nil)."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def msg(type_, **fields):
    m = {"v": 1, "type": type_}
    m.update(fields)
    return mp(m)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


CONTROL = {
    "submit": msg("submit", id=1, agent="main", session="s1", message="hello"),
    "submit_wait": msg("submit", id=2, agent="main", message="hi", wait=True, idempotency_key="k1"),
    "submit_origin": msg("submit", id=3, agent="other", session="c", message="x",
                         origin={"kind": "telegram", "chat": "7"}),
    "status": msg("status", id=4),
    "workers": msg("workers", id=5),
    "sessions": msg("sessions", id=6),
    "wait": msg("wait", id=7, turn_id=1),
    "turn": msg("turn", id=8, idempotency_key="k1"),
    "kill": msg("kill", id=9, session="agent:main:s1"),
    "restart": msg("restart", id=10, session="agent:main:s1"),
    "cancel": msg("cancel", id=11, session="agent:main:s1"),
    "subscribe": msg("subscribe", id=12, channel="telegram"),
    "delivered": msg("delivered", id=13, turn_id=1),
    "ping": msg("ping", id=14),
}
WORKER = {
    "hello": msg("hello", worker_id=1, session="agent:main:s1", pid=4300000),
    "heartbeat": msg("heartbeat", turn_id=1),
    "progress": msg("progress", turn_id=1, delta="par"),
    "done": msg("done", turn_id=1, ok=True, reply="reply:hello"),
    "done_error": msg("done", turn_id=1, ok=False, error="boom", meta={"exit": 3}),
}

for name, data in {**CONTROL, **WORKER}.items():
    write("protocol", name, data)


def rec(op, body):
    return bytes([op]) + struct.pack("<H", len(body)) + body


# A whole conversation: submit, the worker says hello, runs, streams, answers.
write("core", "turn", rec(0, CONTROL["submit_wait"]) + rec(2, WORKER["hello"]) +
      rec(2, WORKER["progress"]) + rec(2, WORKER["done"]) + rec(0, CONTROL["status"]))
write("core", "timeout", rec(0, CONTROL["submit"]) + rec(2, WORKER["hello"]) +
      rec(5, b"\xff") + rec(5, b"\xff") + rec(4, b"\x09\x00") + rec(0, CONTROL["workers"]))
write("core", "channel", rec(1, CONTROL["subscribe"]) + rec(1, CONTROL["submit_origin"]) +
      rec(3, msg("hello", worker_id=1, session="agent:other:c", pid=4300000)) +
      rec(3, WORKER["done"]) + rec(1, CONTROL["delivered"]))
write("core", "operator", rec(0, CONTROL["submit"]) + rec(0, CONTROL["kill"]) +
      rec(0, CONTROL["restart"]) + rec(0, CONTROL["cancel"]) + rec(0, CONTROL["sessions"]) +
      rec(0, CONTROL["turn"]))

write("config", "minimal", '[agents.main]\nrunner = "echo"\n')
write("config", "full", """[supervisor]
max_workers = 8
idle_timeout = "5m"
heartbeat_interval = "1s"
heartbeat_timeout = "10s"
max_message_bytes = 65536
max_queued_bytes_per_session = 1048576
control_allow_uids = [1001, 1002]
control_allow_group = "laneway-ops"

[agents.main]
runner = "exec"
command = ["/bin/cat"]
run_timeout = "10m"
queue_mode = "collect"

[agents.assistant]
runner = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
api_key_env = "OPENAI_API_KEY"
temperature = 0.7
fallback_models = ["llama3.1"]
headers = { "X-Title" = "laneway" }

[channels.http]
listen = "127.0.0.1:18789"
token_env = "LANEWAY_TOKEN"
max_connections = 16
max_connections_per_address = 4

[channels.telegram]
enabled = true
allow_from = [7, 8]
groups = true
parse_mode = "HTML"
""")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(payload):
    return b"NRJL" + struct.pack("<II", len(payload), crc32c(payload)) + payload


ACCEPT = mp({"t": 1, "id": 1, "s": "agent:main:s1", "a": "main", "m": "hello", "at": 1700000000000})
START = mp({"t": 2, "id": 1, "n": 1})
OUTCOME = mp({"t": 3, "id": 1, "st": "replied", "x": "reply:hello"})
ACCEPT2 = mp({"t": 1, "id": 2, "s": "agent:main:s2", "a": "main", "m": "second", "at": 1700000000001,
              "k": "tg:42:7"})
# Even first byte: the file as is; odd: payloads framed by the target.
write("journal", "raw_three", b"\x00" + frame(ACCEPT) + frame(START) + frame(OUTCOME))
write("journal", "raw_torn", b"\x00" + frame(ACCEPT) + frame(ACCEPT2)[:-3])
write("journal", "raw_corrupt_middle", b"\x00" + frame(ACCEPT) + b"NRJLgarbage" + frame(ACCEPT2))
write("journal", "framed", b"\x01" + b"".join(struct.pack("<H", len(p)) + p
                                              for p in (ACCEPT, START, ACCEPT2, OUTCOME)))

write("transcript", "history", "\x03" +
      '{"turn_id":1,"role":"user","text":"hi"}\n'
      '{"turn_id":1,"role":"assistant","text":"hello"}\n'
      '{"turn_id":2,"role":"user","text":"fail please"}\n'
      '{"turn_id":2,"role":"error","text":"agent failed"}\n'
      '{"turn_id":3,"role":"user","text":"slow"}\n'
      '{"turn_id":3,"role":"outcome","status":"timed_out"}\n'
      '{"turn_id":4,"role":"user","text":"torn')

write("gateway", "connect", '{"type":"req","id":"1","method":"connect","params":{"minProtocol":3,'
      '"maxProtocol":3,"client":{"id":"cli","version":"1"},"auth":{"token":"tok"}}}')
write("gateway", "agent", '{"type":"req","id":"2","method":"agent","params":{"message":"hi",'
      '"agentId":"main","sessionKey":"s1","idempotencyKey":"k-1"}}')
write("gateway", "chat", '{"model":"laneway/main","user":"ann","stream":true,"messages":['
      '{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text",'
      '"text":"hi"}]}]}')
write("gateway", "paired", '{"dev1":{"tokens":{"operator":{"token":"abc"}}}}')

write("sse", "chat_stream", "\x07" +
      'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
      ': keep-alive\r\n\r\n'
      'data: {"choices":[{"delta":{"content":"Hel"}}]}\r\n\r\n'
      'event: message\ndata: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n'
      'data: [DONE]\n')
write("sse", "completion", "\x01" +
      '{"id":"x","object":"chat.completion","choices":[{"message":{"role":"assistant",'
      '"content":"hello"},"finish_reason":"stop"}],"usage":{"total_tokens":3}}')

write("telegram", "batch", "\x03" +
      '[{"update_id":100,"message":{"message_id":5,"from":{"id":7,"is_bot":false},'
      '"chat":{"id":7,"type":"private"},"date":1,"text":"hello"}},'
      '{"update_id":101,"edited_message":{"message_id":5,"chat":{"id":7,"type":"private"},'
      '"text":"edited"}},'
      '{"update_id":102,"message":{"message_id":6,"from":{"id":8},"chat":{"id":-100123,'
      '"type":"supergroup"},"message_thread_id":3,"text":"@laneway_bot hi",'
      '"entities":[{"type":"mention","offset":0,"length":12}]}}]')
write("telegram", "split", "\x05" + "para one\n\npara two with a longer line\nand \U0001F600 emoji")

# cron: byte 0 = mode (low two bits: 0 expression, 1 every, 2 at, 3 job as msgpack)
# and zone (the rest, an index into cron_fuzz.cc's list); bytes 1..8 the instant.
T0 = struct.pack("<Q", 1764547200000)  # 2025-12-01T00:00Z
write("cron", "expr_weekdays", bytes([0]) + T0 + b"0 9 * * 1-5")
write("cron", "expr_steps_names", bytes([0 | 4]) + T0 + b"*/15 2-4 1,15 JAN-MAR mon,fri")
write("cron", "expr_macro", bytes([0 | 8]) + T0 + b"@daily")
write("cron", "expr_both_days", bytes([0]) + T0 + b"30 2 13 * 5")
write("cron", "every", bytes([1]) + T0 + b"15m")
write("cron", "at_zone", bytes([2 | 4]) + T0 + b"2026-03-29T02:30")
write("cron", "at_offset", bytes([2]) + T0 + b"2026-12-24T09:00+01:00")
write("cron", "job_cron", bytes([3]) + T0 + mp({
    "name": "daily", "agent": "main", "session": "ops", "message": "report",
    "kind": "cron", "spec": "0 9 * * 1-5", "tz": "Europe/Berlin", "overlap": "skip",
    "catch_up": "none", "deliver": True, "channel": "telegram", "to": "12345"}))
write("cron", "job_every", bytes([3]) + T0 + mp({
    "name": "tick", "agent": "main", "session": "s", "message": "t", "kind": "every",
    "spec": "1m", "created_unix_ms": 1764547200000, "last_scheduled_unix_ms": 0,
    "runs": [{"scheduled_unix_ms": 1, "fired_unix_ms": 2, "turn_id": 3, "status": "done",
              "text": "ok", "missed": 0}]}))
