// Switchboard dashboard: renders the snapshots /dashboard/stream sends over SSE (one per second, and at once when a
// sender connects or leaves). Plain DOM, no framework, no build. Names are shown with textContent only.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const history = []; // total messages/s, last 60 snapshots
  let source = null;

  // With authentication on, open the page as /#token=TOKEN (EventSource cannot send headers; the token goes in the query).
  function streamUrl() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get("token");
    return "/dashboard/stream" + (token ? "?token=" + encodeURIComponent(token) : "");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child == null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function chips(names) {
    const cell = el("td");
    if (!names.length) cell.append(el("span", { class: "muted" }, "–"));
    for (const name of names) cell.append(el("span", { class: name.startsWith("#") ? "chip channel" : "chip" }, name));
    return cell;
  }

  function renderSenders(senders) {
    const body = $("senders").tBodies[0];
    const existing = new Map([...body.rows].map((row) => [row.dataset.sender, row]));
    const wanted = new Set(senders.map((s) => s.name));
    for (const [name, row] of existing) if (!wanted.has(name)) row.remove();
    senders.forEach((s, i) => {
      const key = JSON.stringify([s.events, s.requests, s.default_handler, s.http]);
      let row = existing.get(s.name);
      if (!row || row.dataset.key !== key) {
        const requests = s.default_handler ? [...s.requests, "*"] : s.requests;
        const name = el("td", null, el("span", { class: "sender-name" }, s.name));
        if (s.http) name.append(el("span", { class: "badge", title: "registered over HTTP (POST /senders)" }, "http"));
        if (s.name === "switchboard") name.append(el("span", { class: "badge", title: "the broker's own sender" }, "broker"));
        const fresh = el("tr", { "data-sender": s.name, "data-key": key, class: row ? "" : "fresh" }, name, chips(s.events), chips(requests));
        if (row) row.replaceWith(fresh);
        row = fresh;
      }
      if (body.rows[i] !== row) body.insertBefore(row, body.rows[i] || null);
    });
    $("senders-empty").hidden = senders.length > 0;
  }

  function renderRates(rates) {
    const body = $("rates").tBodies[0];
    body.replaceChildren(...rates.map((r) => el("tr", { "data-rate": r.sender + "/" + r.event },
      el("td", null, el("span", { class: "sender-name" }, r.sender)),
      el("td", null, el("span", { class: r.event.startsWith("#") ? "chip channel" : "chip" }, r.event)),
      el("td", { class: "num" }, r.per_second.toFixed(r.per_second < 10 ? 1 : 0)),
      el("td", { class: "num" }, r.total.toLocaleString()))));
    $("rates-empty").hidden = rates.length > 0;
  }

  function renderList(id, values, labels) {
    const list = $(id);
    list.replaceChildren();
    for (const [key, label] of Object.entries(labels)) {
      const value = values[key] ?? 0;
      list.append(el("dt", null, label), el("dd", { class: value > 0 && id !== "http" ? "nonzero" : "", "data-counter": key }, value.toLocaleString()));
    }
  }

  function renderStreams(streams) {
    $("streams").tBodies[0].replaceChildren(...streams.map((s) => el("tr", null,
      el("td", null, s.sender ?? "any"), el("td", null, s.event ?? "any"),
      el("td", { class: "num" }, s.clients), el("td", { class: "num" }, s.history), el("td", { class: "num" }, s.dropped))));
    $("streams-empty").hidden = streams.length > 0;
  }

  function drawChart() {
    const canvas = $("chart");
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const max = Math.max(1, ...history);
    ctx.strokeStyle = "#4fb3ff"; ctx.lineWidth = 2; ctx.beginPath();
    history.forEach((v, i) => {
      const x = (i / 59) * (w - 2) + 1;
      const y = h - 2 - (v / max) * (h - 6);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }

  function render(snap) {
    $("server").textContent = snap.server;
    $("count-senders").textContent = snap.senders.length;
    $("count-connections").textContent = snap.connections;
    $("count-listeners").textContent = snap.listeners;
    $("count-sse").textContent = snap.sse_clients;
    $("rate-total").textContent = "· " + snap.rate_total.toFixed(1) + " now";
    renderSenders(snap.senders);
    renderRates(snap.rates);
    renderList("drops", snap.drops, {
      listener_overflow: "listener overflow", late_results: "late gather results", offline: "offline buffer full",
      corrupt_frames: "corrupt frames", slow_consumers: "slow consumers", sse_listener_overflow: "SSE listener overflow",
      sse_history_overrun: "SSE history overrun",
    });
    renderList("errors", snap.errors, { handler_faults: "handler faults", heartbeat_timeouts: "heartbeat timeouts", protocol_errors: "protocol errors" });
    renderList("http", snap.http, { messages_in: "published (POST /publish)", messages_out: "delivered over SSE", requests: "requests", gathers: "gathers" });
    renderStreams(snap.streams);
    history.push(snap.rate_total);
    while (history.length > 60) history.shift();
    drawChart();
    $("updated").textContent = new Date(snap.time).toLocaleTimeString();
  }

  function connect() {
    source = new EventSource(streamUrl());
    source.addEventListener("open", () => { $("status").textContent = "live"; $("status").className = "status live"; });
    source.addEventListener("error", () => { $("status").textContent = "reconnecting…"; $("status").className = "status connecting"; });
    source.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  }

  connect();
})();
