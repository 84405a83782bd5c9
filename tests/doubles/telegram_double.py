#!/usr/bin/env python3
"""A local Telegram Bot API server for laneway's tests (Python standard library only).

Listens on 127.0.0.1 (an ephemeral port unless --port is given) and prints
"PORT <n>" on stdout once it accepts connections.

Bot API (POST or GET /bot<token>/<method>, JSON or form parameters), with the real
JSON shapes: {"ok": true, "result": ...} or {"ok": false, "error_code": N,
"description": "...", "parameters": {"retry_after": N}}.
  getMe, getUpdates (long poll with `timeout`; `offset` confirms every update below
  it; a newer getUpdates ends an older one still waiting with 409, as Telegram
  does), sendMessage (4096 UTF-16 units at most; `reply_parameters` or
  `reply_to_message_id`; `parse_mode`), sendChatAction, deleteWebhook.
  A wrong token gets 401.

A sendMessage counts as sent only once its response is written: one whose client
disconnected before that (a held send, see `faults`) counts in `sends_aborted`
and is not in `sent`.

Control API for tests (POST /control/<op>, JSON body; answers JSON):
  inject   {chat_id, from_id, text, chat_type?, thread_id?, reply_to_bot?, username?}
           -> {update_id, message_id}: a user's message, delivered to getUpdates
  sent     -> {messages: [{chat_id, text, reply_to, thread_id, parse_mode, message_id}]}
  actions  -> {actions: [{chat_id, action, thread_id}]}
  stats    -> counters: get_updates, polls_in_flight, held_sends, held_polls,
              sends_aborted, pending_updates, conflicts_sent, rate_limited_sent, ...
  faults   {conflict: N, rate_limit_polls: N, rate_limit_sends: N, retry_after: S,
            hang_polls: N, hold_sends: N, hold_skip: N, fail_sends: N, reject_parse: N,
            down: bool}
           -> the fault counters now; each N is "the next N requests of that kind"
           (hold_skip: that many sends pass before hold_sends applies)
  release  -> lets every held send and hung poll go on (and clears hold/hang counts)
  reset_ids {next: N} -> the next update gets id N (Telegram's numbering after a
              long idle); offsets above every id issued since do not confirm them
"""

import argparse
import json
import select
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_UNITS = 4096


def utf16_units(text):
    return len(text.encode("utf-16-le")) // 2


class State:
    def __init__(self, token, bot_id, username):
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.cv = threading.Condition()
        self.updates = []  # pending, ascending update_id
        self.next_update_id = 1
        self.issued_since_reset = 0  # highest id issued since the last reset_ids
        self.next_message_id = {}
        self.sent = []
        self.actions = []
        self.poll_seq = 0
        self.release_gen = 0
        self.faults = {
            "conflict": 0, "rate_limit_polls": 0, "rate_limit_sends": 0, "retry_after": 1,
            "hang_polls": 0, "hold_sends": 0, "hold_skip": 0, "fail_sends": 0, "reject_parse": 0, "down": False,
        }
        self.stats = {
            "get_updates": 0, "polls_in_flight": 0, "held_sends": 0, "held_polls": 0,
            "sends_aborted": 0, "conflicts_sent": 0, "rate_limited_sent": 0,
            "send_calls": 0, "send_errors": 0, "get_me": 0, "confirmed_offset": 0,
        }

    def message_id(self, chat_id):
        n = self.next_message_id.get(chat_id, 1000) + 1
        self.next_message_id[chat_id] = n
        return n

    def take_fault(self, name):
        if self.faults[name] > 0:
            self.faults[name] -= 1
            return True
        return False


def closed(sock):
    """True if the peer closed the connection (nothing else is expected from it)."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "telegram-double/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    @property
    def st(self):
        return self.server.state

    # --- plumbing ---

    def params(self):
        parsed = urllib.parse.urlparse(self.path)
        out = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        ctype = self.headers.get("Content-Type", "")
        if body:
            if "json" in ctype or body.lstrip()[:1] == b"{":
                try:
                    j = json.loads(body)
                    if isinstance(j, dict):
                        out.update(j)
                except ValueError:
                    pass
            else:
                out.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()})
        return parsed.path, out

    def reply(self, obj, status=200):
        data = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            return False

    def ok(self, result):
        return self.reply({"ok": True, "result": result})

    def error(self, code, description, retry_after=None):
        obj = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            obj["parameters"] = {"retry_after": retry_after}
        return self.reply(obj, code)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        path, p = self.params()
        if path.startswith("/control/"):
            try:
                return self.control(path[len("/control/"):], p)
            except (KeyError, TypeError, ValueError) as e:
                return self.reply({"error": "bad control request: %r" % (e,)}, 400)
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self.error(404, "Not Found")
        with self.st.cv:
            down = self.st.faults["down"]
        if down:
            # Unreachable: the connection drops without an answer.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if parts[0][3:] != self.st.token:
            return self.error(401, "Unauthorized")
        method = parts[1]
        fn = {
            "getMe": self.get_me, "getUpdates": self.get_updates,
            "sendMessage": self.send_message, "sendChatAction": self.send_chat_action,
            "deleteWebhook": lambda p: self.ok(True),
        }.get(method)
        if fn is None:
            return self.error(404, "Not Found: method not found")
        fn(p)

    # --- Bot API ---

    def get_me(self, p):
        with self.st.cv:
            self.st.stats["get_me"] += 1
        self.ok({"id": self.st.bot_id, "is_bot": True, "first_name": "Laneway Test",
                 "username": self.st.username, "can_join_groups": True,
                 "can_read_all_group_messages": False, "supports_inline_queries": False})

    def get_updates(self, p):
        st = self.st
        try:
            offset = int(p.get("offset", 0) or 0)
            timeout = max(0, int(p.get("timeout", 0) or 0))
            limit = max(1, min(100, int(p.get("limit", 100) or 100)))
        except (TypeError, ValueError):
            return self.error(400, "Bad Request: wrong parameter")
        with st.cv:
            st.stats["get_updates"] += 1
            if st.take_fault("conflict"):
                st.stats["conflicts_sent"] += 1
                return self.error(409, "Conflict: terminated by other getUpdates request; "
                                       "make sure that only one bot instance is running")
            if st.take_fault("rate_limit_polls"):
                st.stats["rate_limited_sent"] += 1
                ra = st.faults["retry_after"]
                return self.error(429, "Too Many Requests: retry after %d" % ra, ra)
            hang = st.take_fault("hang_polls")
            st.poll_seq += 1
            me = st.poll_seq
            st.cv.notify_all()  # an older poll still waiting ends with 409
            if offset and offset <= st.issued_since_reset + 1:
                st.updates = [u for u in st.updates if u["update_id"] >= offset]
                st.stats["confirmed_offset"] = offset
            st.stats["polls_in_flight"] += 1
            if hang:
                st.stats["held_polls"] += 1
        try:
            if hang:
                gen = st.release_gen
                while not closed(self.connection):
                    with st.cv:
                        if st.release_gen != gen:
                            break
                        st.cv.wait(0.05)
                with st.cv:
                    st.stats["held_polls"] -= 1
                if closed(self.connection):
                    self.close_connection = True
                    return
            deadline = time.monotonic() + timeout
            with st.cv:
                while True:
                    if st.poll_seq != me:
                        st.stats["conflicts_sent"] += 1
                        batch = None
                        break
                    if st.updates:
                        batch = st.updates[:limit]
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        batch = []
                        break
                    st.cv.wait(min(left, 0.05))
            if batch is None:
                return self.error(409, "Conflict: terminated by other getUpdates request; "
                                       "make sure that only one bot instance is running")
            self.ok(batch)
        finally:
            with st.cv:
                st.stats["polls_in_flight"] -= 1

    def send_message(self, p):
        st = self.st
        chat_id = str(p.get("chat_id", ""))
        text = p.get("text", "")
        if not isinstance(text, str):
            text = str(text)
        reply_to = None
        rp = p.get("reply_parameters")
        if isinstance(rp, str):
            try:
                rp = json.loads(rp)
            except ValueError:
                rp = None
        if isinstance(rp, dict):
            reply_to = rp.get("message_id")
        elif p.get("reply_to_message_id") is not None:
            reply_to = p.get("reply_to_message_id")
        parse_mode = p.get("parse_mode") or None
        with st.cv:
            st.stats["send_calls"] += 1
            if not chat_id:
                return self.error(400, "Bad Request: chat_id is empty")
            if not text.strip():
                return self.error(400, "Bad Request: message text is empty")
            if utf16_units(text) > MAX_UNITS:
                st.stats["send_errors"] += 1
                return self.error(400, "Bad Request: message is too long")
            if st.take_fault("rate_limit_sends"):
                st.stats["rate_limited_sent"] += 1
                ra = st.faults["retry_after"]
                return self.error(429, "Too Many Requests: retry after %d" % ra, ra)
            if st.take_fault("fail_sends"):
                st.stats["send_errors"] += 1
                return self.error(500, "Internal Server Error")
            if parse_mode and st.take_fault("reject_parse"):
                st.stats["send_errors"] += 1
                return self.error(400, "Bad Request: can't parse entities: "
                                       "Can't find end of the entity starting at byte offset 0")
            hold = False
            if st.faults["hold_skip"] > 0:
                st.faults["hold_skip"] -= 1  # this one passes; a later one is held
            else:
                hold = st.take_fault("hold_sends")
            if hold:
                st.stats["held_sends"] += 1
            gen = st.release_gen
        if hold:
            while not closed(self.connection):
                with st.cv:
                    if st.release_gen != gen:
                        break
                    st.cv.wait(0.05)
            with st.cv:
                st.stats["held_sends"] -= 1
        if closed(self.connection):
            with st.cv:
                st.stats["sends_aborted"] += 1
            self.close_connection = True
            return
        with st.cv:
            mid = st.message_id(chat_id)
        result = {"message_id": mid, "date": int(time.time()),
                  "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                           "type": "private"},
                  "from": {"id": st.bot_id, "is_bot": True, "username": st.username},
                  "text": text}
        if self.ok(result):
            with st.cv:
                st.sent.append({"chat_id": chat_id, "text": text, "reply_to": reply_to,
                                "thread_id": p.get("message_thread_id"),
                                "parse_mode": parse_mode, "message_id": mid,
                                "at": time.monotonic()})
                st.cv.notify_all()
        else:
            with st.cv:
                st.stats["sends_aborted"] += 1

    def send_chat_action(self, p):
        with self.st.cv:
            self.st.actions.append({"chat_id": str(p.get("chat_id", "")),
                                    "action": p.get("action"),
                                    "thread_id": p.get("message_thread_id")})
        self.ok(True)

    # --- control API ---

    def control(self, op, p):
        st = self.st
        with st.cv:
            if op == "inject":
                chat_id = int(p["chat_id"])
                from_id = int(p.get("from_id", chat_id))
                chat_type = p.get("chat_type", "private")
                uid = st.next_update_id
                st.next_update_id += 1
                st.issued_since_reset = max(st.issued_since_reset, uid)
                mid = st.message_id(str(chat_id))
                msg = {"message_id": mid, "date": int(time.time()),
                       "from": {"id": from_id, "is_bot": False, "first_name": "User%d" % from_id,
                                "username": p.get("username", "user%d" % from_id)},
                       "chat": {"id": chat_id, "type": chat_type},
                       "text": p.get("text", "")}
                if chat_type == "private":
                    msg["chat"]["first_name"] = "User%d" % from_id
                else:
                    msg["chat"]["title"] = "Group %d" % chat_id
                if p.get("thread_id") is not None:
                    msg["message_thread_id"] = int(p["thread_id"])
                    msg["is_topic_message"] = True
                if p.get("reply_to_bot"):
                    msg["reply_to_message"] = {"message_id": 1, "from": {"id": st.bot_id,
                                                                         "is_bot": True}}
                st.updates.append({"update_id": uid, "message": msg})
                st.updates.sort(key=lambda u: u["update_id"])
                st.cv.notify_all()
                return self.reply({"update_id": uid, "message_id": mid})
            if op == "sent":
                return self.reply({"messages": list(st.sent)})
            if op == "actions":
                return self.reply({"actions": list(st.actions)})
            if op == "stats":
                s = dict(st.stats)
                s["pending_updates"] = len(st.updates)
                s["sent"] = len(st.sent)
                s["actions"] = len(st.actions)
                return self.reply(s)
            if op == "faults":
                for k, v in p.items():
                    if k in st.faults:
                        st.faults[k] = bool(v) if k == "down" else int(v)
                st.cv.notify_all()
                return self.reply(dict(st.faults))
            if op == "release":
                st.faults["hold_sends"] = 0
                st.faults["hang_polls"] = 0
                st.release_gen += 1
                st.cv.notify_all()
                return self.reply({"released": True})
            if op == "reset_ids":
                st.next_update_id = int(p.get("next", 1))
                st.issued_since_reset = 0
                return self.reply({"next": st.next_update_id})
        return self.reply({"error": "unknown control op " + op}, 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer.server_bind looks up the host's FQDN, which can stall for
        # seconds on a machine without DNS: bind only.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="123456:TEST-token")
    ap.add_argument("--bot-id", type=int, default=123456)
    ap.add_argument("--username", default="laneway_test_bot")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args.token, args.bot_id, args.username)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
