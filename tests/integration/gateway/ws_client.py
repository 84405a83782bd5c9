#!/usr/bin/python3
"""A protocol-3 WebSocket client for laneway's gateway tests (Debian python3-websockets).

Usage: ws_client.py MODE URL TOKEN [ARGS...]; prints one JSON object on stdout.
Modes:
  handshake [MIN MAX [DEVICE_ID]]   connect; {"challenge", "res", "close_code"}
  call METHOD PARAMS_JSON [FILE N]  connect, one request; {"accepted", "res", "events", "ticks"};
                                    with FILE N, creates FILE once N ticks arrived;
                                    with FILE assistant, once an assistant event arrived
  fast-connect                      send connect without waiting for the challenge;
                                    {"frames"} (what arrived up to the connect answer)
  accept-then-leave PARAMS_JSON     connect, agent, leave after "accepted"; {"accepted"}
  raw TEXT                          connect, send TEXT as is; {"res", "close_code"}
  big BYTES                         connect, send one frame of BYTES; {"close_code"}
  before-connect                    send a non-connect request first; {"res", "close_code"}
  silent                            send nothing after the upgrade; {"close_code"}
  concurrent N SESSIONS             N connections at once, agent on SESSIONS sessions;
                                    {"ok", "failed", "errors"}
  noread N                          raw socket: handshake, N requests, never read; waits
                                    until the server cuts the connection; {"cut", "sent"}
Only loopback URLs are accepted.
"""
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
import uuid

import websockets

TIMEOUT = 60


def connect_params(token, lo=3, hi=3, device_id=None):
    p = {"minProtocol": lo, "maxProtocol": hi,
         "client": {"id": "cli", "version": "dev", "platform": "linux", "mode": "cli",
                    "instanceId": str(uuid.uuid4())},
         "caps": [], "auth": {"token": token}, "role": "operator",
         "scopes": ["operator.admin"]}
    if device_id:
        p["device"] = {"id": device_id, "publicKey": "x", "signature": "x",
                       "signedAt": int(time.time() * 1000), "nonce": "x"}
    return p


def req(method, params):
    return {"type": "req", "id": str(uuid.uuid4()), "method": method, "params": params}


async def open_ws(url):
    # The same generous bound as every read: 200 handshakes at once against a
    # sanitizer build on 2 busy cores took more than 10 s (the ASan suite in CI).
    return await websockets.connect(url, max_size=None, ping_interval=None,
                                    open_timeout=TIMEOUT, close_timeout=5)


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def close_code_of(ws):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


async def hello(ws, token, **kw):
    challenge = await recv_json(ws)
    assert challenge.get("event") == "connect.challenge", challenge
    r = req("connect", connect_params(token, **kw))
    await ws.send(json.dumps(r))
    res = await recv_json(ws)
    return challenge, res


async def until_final(ws, rid, tick_file=None, tick_n=0):
    out = {"accepted": None, "res": None, "events": [], "ticks": 0}
    while True:
        f = await recv_json(ws)
        if f.get("type") == "event":
            if tick_file and tick_n == "assistant" and f.get("event") == "agent" and \
                    f.get("payload", {}).get("stream") == "assistant":
                open(tick_file, "w").close()
            if f.get("event") == "tick":
                out["ticks"] += 1
                if tick_file and out["ticks"] == tick_n:
                    open(tick_file, "w").close()
            else:
                out["events"].append(f)
            continue
        if f.get("type") == "res" and f.get("id") == rid:
            if f.get("ok") and isinstance(f.get("payload"), dict) and \
                    f["payload"].get("status") == "accepted":
                out["accepted"] = f
                continue
            out["res"] = f
            return out


async def main(argv):
    mode, url, token = argv[0], argv[1], argv[2]
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    args = argv[3:]
    if mode == "noread":
        return noread(url, token, int(args[0]))
    if mode == "concurrent":
        return await concurrent(url, token, int(args[0]), int(args[1]))
    ws = await open_ws(url)
    if mode == "handshake":
        kw = {}
        if len(args) >= 2:
            kw["lo"], kw["hi"] = int(args[0]), int(args[1])
        if len(args) >= 3:
            kw["device_id"] = args[2]
        challenge, res = await hello(ws, token, **kw)
        code = None
        if not res.get("ok"):
            code = await close_code_of(ws)
        else:
            await ws.close()
        return {"challenge": challenge, "res": res, "close_code": code}
    if mode == "fast-connect":
        r = req("connect", connect_params(token))
        await ws.send(json.dumps(r))
        frames = []
        while True:
            f = await recv_json(ws)
            frames.append(f)
            if f.get("type") == "res":
                break
        await ws.close()
        return {"frames": frames}
    if mode == "silent":
        await recv_json(ws)
        return {"close_code": await close_code_of(ws)}
    if mode == "before-connect":
        await recv_json(ws)
        await ws.send(json.dumps(req("health", {})))
        res = await recv_json(ws)
        return {"res": res, "close_code": await close_code_of(ws)}
    _, hres = await hello(ws, token)
    assert hres.get("ok"), hres
    if mode == "call":
        r = req(args[0], json.loads(args[1]))
        await ws.send(json.dumps(r))
        tick_file, tick_n = (args[2], args[3]) if len(args) >= 4 else (None, 0)
        if tick_n != "assistant":
            tick_n = int(tick_n)
        out = await until_final(ws, r["id"], tick_file, tick_n)
        out["hello"] = hres
        await ws.close()
        return out
    if mode == "accept-then-leave":
        r = req("agent", json.loads(args[0]))
        await ws.send(json.dumps(r))
        while True:
            f = await recv_json(ws)
            if f.get("type") == "res" and f.get("id") == r["id"]:
                break
        await ws.close()
        return {"accepted": f}
    if mode == "raw":
        await ws.send(args[0])
        res = await recv_json(ws)
        await ws.close()
        return {"res": res, "close_code": None}
    if mode == "big":
        payload = json.dumps(req("health", {"pad": "x" * int(args[0])}))
        try:
            await ws.send(payload)
        except websockets.ConnectionClosed:
            pass
        return {"close_code": await close_code_of(ws)}
    raise SystemExit("unknown mode " + mode)


async def concurrent(url, token, n, sessions):
    async def one(i):
        ws = await open_ws(url)
        try:
            _, hres = await hello(ws, token)
            if not hres.get("ok"):
                return "hello failed"
            r = req("agent", {"message": "c%d" % i, "agentId": "main",
                              "sessionKey": "agent:main:c%d" % (i % sessions),
                              "idempotencyKey": str(uuid.uuid4())})
            await ws.send(json.dumps(r))
            out = await until_final(ws, r["id"])
            res = out["res"]
            text = res.get("payload", {}).get("result", {}).get("payloads", [{}])[0].get("text")
            return None if res.get("ok") and out["accepted"] and text == "c%d" % i else \
                json.dumps(res)
        finally:
            await ws.close()
    results = await asyncio.gather(*[one(i) for i in range(n)], return_exceptions=True)
    # repr for exceptions whose str() is empty (asyncio's TimeoutError).
    errors = [r if isinstance(r, str) else repr(r) for r in results if r is not None]
    return {"ok": n - len(errors), "failed": len(errors), "errors": errors[:5]}


def ws_frame(text):
    data = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(data)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def noread(url, token, n):
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (u.hostname, u.port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:  # the upgrade answer is the only thing ever read
        chunk = s.recv(1)
        if not chunk:
            return {"cut": True, "sent": 0, "error": "closed during upgrade"}
        head += chunk
    s.sendall(ws_frame(json.dumps(req("connect", connect_params(token)))))
    sent = 0
    deadline = time.time() + TIMEOUT
    frame = ws_frame(json.dumps(req("status", {})))
    try:
        while time.time() < deadline:
            s.sendall(frame)
            sent += 1
            if sent >= n:
                time.sleep(0.01)  # pacing only: the cut is detected by the failing send
    except (BrokenPipeError, ConnectionResetError):
        return {"cut": True, "sent": sent}
    return {"cut": False, "sent": sent}


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1:]))
    print(json.dumps(result))
