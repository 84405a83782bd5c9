// laneway control page: logs in over the gateway's WebSocket (protocol 3) with the
// token typed into the form (held in memory only, never put in a URL), then polls
// laneway.status, workers.list and turns.recent once a second and renders them.
"use strict";

const POLL_MS = 1000;
const HISTORY = 300;  // samples kept for the chart: five minutes at one a second
const ENDED = ["turns_replied", "turns_failed", "turns_timed_out", "turns_cancelled",
               "turns_rejected", "turns_interrupted"];

const $ = (id) => document.getElementById(id);
let ws = null;
let token = "";
let nextId = 1;
const pending = new Map();  // request id -> {resolve, reject}
let pollTimer = null;
let history = [];           // {t, turnsPerSec, queue}
let lastEnded = null;

function uuid() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + "-" + (nextId++));
}

function setConn(text) { $("conn").textContent = text; }

function connect() {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const sock = new WebSocket(scheme + location.host + "/");
    let connected = false;
    sock.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "event" && f.event === "connect.challenge") {
        sock.send(JSON.stringify({
          type: "req", id: "connect-" + uuid(), method: "connect",
          params: {
            minProtocol: 3, maxProtocol: 3,
            client: {id: "laneway-control-page", version: "1", platform: "browser",
                     mode: "operator", instanceId: uuid()},
            caps: [], role: "operator", scopes: ["operator.admin"],
            auth: {token: token},
          },
        }));
        return;
      }
      if (f.type === "res" && typeof f.id === "string" && f.id.startsWith("connect-")) {
        if (f.ok) { connected = true; ws = sock; resolve(f.payload); }
        else reject(new Error((f.error && f.error.message) || "connect refused"));
        return;
      }
      if (f.type === "res" && pending.has(f.id)) {
        const p = pending.get(f.id);
        pending.delete(f.id);
        if (f.ok) p.resolve(f.payload);
        else p.reject(new Error((f.error && f.error.message) || "request failed"));
      }
    };
    sock.onerror = () => { if (!connected) reject(new Error("cannot reach the gateway")); };
    sock.onclose = () => {
      for (const p of pending.values()) p.reject(new Error("connection closed"));
      pending.clear();
      if (!connected) { reject(new Error("the gateway closed the connection")); return; }
      ws = null;
      setConn("disconnected; reconnecting…");
      stopPolling();
      setTimeout(reconnect, 2000);
    };
  });
}

async function reconnect() {
  try { await connect(); setConn("connected"); startPolling(); }
  catch (e) { setConn("disconnected: " + e.message); setTimeout(reconnect, 5000); }
}

function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
    const id = uuid();
    pending.set(id, {resolve, reject});
    ws.send(JSON.stringify({type: "req", id, method, params: params || {}}));
  });
}

function ms(v) {
  if (v === null || v === undefined) return "";
  if (v < 1000) return v + " ms";
  if (v < 60000) return (v / 1000).toFixed(1) + " s";
  return Math.floor(v / 60000) + " min " + Math.floor((v % 60000) / 1000) + " s";
}

function kb(v) {
  if (!v) return "";
  return v >= 10240 ? (v / 1024).toFixed(0) + " MiB" : v + " KiB";
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function actionButton(td, label, action, session, enabled) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.session = session;
  b.className = action === "cancel" ? "" : "danger";
  b.setAttribute("aria-label", label + " " + session);
  b.disabled = !enabled;
  b.addEventListener("click", () => confirmAction(action, session));
  td.appendChild(b);
}

function renderWorkers(rows) {
  const body = $("workers").querySelector("tbody");
  // Keep the focused button focused across a re-render (keyboard users).
  const focused = document.activeElement;
  const keep = focused && focused.dataset && focused.dataset.action
      ? {action: focused.dataset.action, session: focused.dataset.session} : null;
  body.textContent = "";
  for (const w of rows) {
    const tr = document.createElement("tr");
    tr.dataset.session = w.session;
    tr.dataset.state = w.state;
    cell(tr, w.session, "session");
    cell(tr, w.pid > 0 ? w.pid : "", "pid num");  // 0 while its launch is under way
    cell(tr, w.state, "state state-" + w.state);
    cell(tr, w.turn_id, "turn num");
    cell(tr, ms(w.turn_age_ms), "age num");
    cell(tr, w.queue_depth, "queue num");
    cell(tr, w.restarts, "restarts num");
    cell(tr, kb(w.rss_kb), "rss num");
    const td = cell(tr, "", "actions");
    actionButton(td, "Kill", "kill", w.session, w.pid > 0);
    actionButton(td, "Restart", "restart", w.session, true);
    actionButton(td, "Cancel turn", "cancel", w.session,
                 w.state === "busy" || w.state === "dispatched");
    body.appendChild(tr);
  }
  $("no-workers").hidden = rows.length > 0;
  if (keep) {
    const b = body.querySelector(`button[data-action="${keep.action}"][data-session="${CSS.escape(keep.session)}"]`);
    if (b) b.focus();
  }
}

function renderStatus(st) {
  const h = $("health");
  const problems = [];
  if (st.stuck && st.stuck.length) problems.push(st.stuck.length + " stuck");
  if (st.parked && st.parked.length) problems.push(st.parked.length + " parked");
  if (st.journal && !st.journal.ok) problems.push("journal: " + st.journal.error);
  if (st.shutting_down) problems.push("draining");
  h.textContent = st.healthy && !st.shutting_down ? "healthy" : "unhealthy: " + problems.join(", ");
  h.className = "health " + (st.healthy && !st.shutting_down ? "ok" : "bad");
  const summary = [
    ["pid", st.pid], ["uptime", ms(st.uptime_ms)], ["workers", st.workers + " / " + st.max_workers],
    ["busy", st.busy], ["idle", st.idle], ["starting", st.starting], ["queued", st.queued],
    ["waiting for a worker", st.waiting_for_worker], ["sessions", st.sessions],
    ["journal bytes", st.journal ? st.journal.bytes : ""],
  ];
  fillDl($("summary"), summary);
  fillDl($("counters"), Object.entries(st.counters || {}));
  const ended = ENDED.reduce((a, k) => a + ((st.counters || {})[k] || 0), 0);
  const now = Date.now();
  if (lastEnded !== null) {
    const dt = Math.max(0.001, (now - lastEnded.t) / 1000);
    history.push({t: now, turnsPerSec: Math.max(0, ended - lastEnded.n) / dt, queue: st.queued});
    if (history.length > HISTORY) history.shift();
  }
  lastEnded = {t: now, n: ended};
  drawChart();
}

function fillDl(dl, pairs) {
  dl.textContent = "";
  for (const [k, v] of pairs) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v === null || v === undefined ? "" : String(v);
    div.append(dt, dd);
    dl.appendChild(div);
  }
}

function renderRecent(turns) {
  const body = $("recent").querySelector("tbody");
  body.textContent = "";
  for (const t of turns) {
    const tr = document.createElement("tr");
    cell(tr, t.turn_id, "num");
    cell(tr, t.session);
    cell(tr, t.status, "outcome-" + t.status);
    cell(tr, ms(t.duration_ms), "num");
    cell(tr, new Date(t.ended_unix_ms).toLocaleTimeString());
    body.appendChild(tr);
  }
}

function drawChart() {
  const c = $("chart");
  const ctx = c.getContext("2d");
  const css = getComputedStyle(document.documentElement);
  ctx.clearRect(0, 0, c.width, c.height);
  const pad = 6;
  const w = c.width - 2 * pad, h = c.height - 2 * pad;
  const series = [["turnsPerSec", css.getPropertyValue("--turns")],
                  ["queue", css.getPropertyValue("--queue")]];
  for (const [key, colour] of series) {
    const max = Math.max(1, ...history.map((p) => p[key]));
    ctx.strokeStyle = colour.trim() || "#0b5cad";
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((p, i) => {
      const x = pad + (w * (HISTORY - history.length + i)) / (HISTORY - 1);
      const y = pad + h - (h * p[key]) / max;
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  c.dataset.samples = String(history.length);
  const last = history[history.length - 1];
  $("chart-now").textContent = last
      ? `(now: ${last.turnsPerSec.toFixed(1)} turns/s, ${last.queue} queued)` : "";
}

async function poll() {
  try {
    const [st, workers, recent] = await Promise.all(
        [call("laneway.status"), call("workers.list"), call("turns.recent")]);
    renderStatus(st);
    renderWorkers(workers.workers || []);
    renderRecent(recent.turns || []);
    setConn("connected; updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setConn("update failed: " + e.message);
  }
}

function startPolling() {
  stopPolling();
  poll();
  pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearInterval(pollTimer);
  pollTimer = null;
}

const ACTIONS = {
  kill: {method: "workers.kill", text: (s) => `Kill the worker of ${s}? Its running turn fails; queued turns stay.`},
  restart: {method: "workers.restart", text: (s) => `Restart the worker of ${s}? Its running turn fails and a new worker starts.`},
  cancel: {method: "turns.cancel", text: (s) => `Cancel the running turn of ${s}?`},
};

function confirmAction(action, session) {
  const d = $("confirm");
  const opener = document.activeElement;
  $("confirm-text").textContent = ACTIONS[action].text(session);
  d.returnValue = "";
  d.onclose = async () => {
    if (opener && opener.focus) opener.focus();
    if (d.returnValue !== "ok") return;
    try {
      const r = await call(ACTIONS[action].method, {session});
      $("action-result").textContent = `${action} ${session}: done` +
          (r && r.killed_pid ? ` (pid ${r.killed_pid})` : "");
    } catch (e) {
      $("action-result").textContent = `${action} ${session}: ${e.message}`;
      alertError(e.message);
    }
    poll();
  };
  d.showModal();
  $("confirm-no").focus();
}

function alertError(text) { setConn("action failed: " + text); }

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  token = $("token").value;
  $("token").value = "";
  $("login-error").textContent = "";
  $("login-button").disabled = true;
  try {
    await connect();
    $("login").hidden = true;
    $("dashboard").hidden = false;
    setConn("connected");
    startPolling();
    $("health-title").setAttribute("tabindex", "-1");
    $("health-title").focus();
  } catch (e) {
    $("login-error").textContent = "Login failed: " + e.message;
  } finally {
    $("login-button").disabled = false;
  }
});
