// miniapp DevTools: draws one session of the program in a phone frame, the
// host's prompts as host dialogs, and the panels. Every element is built with
// createElement and textContent: nothing a program supplies is ever parsed as
// markup. It talks only to the server that served it (the cookie it was given
// with the token authenticates every request and the WebSocket).
"use strict";

const state = {
  program: null,
  session: null,
  socket: null,
  nextSeq: 0,
  prompt: null,
  tab: "console",
  launch: { surface: "direct", path: "", query: {}, referrer: null },
  requests: 0,
  refreshTimer: null,
};

function el(tag, props, children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else if (key === "onchange") node.addEventListener("change", value);
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else if (key === "disabled") node.disabled = true;
      else node.setAttribute(key, String(value));
    }
  }
  for (const child of children || []) {
    if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { code: "http_" + response.status, message: response.statusText };
    throw new Error(error.code + ": " + error.message);
  }
  return data;
}

// ---------------------------------------------------------------- the view

// Exact money from integer minor units: never through floating point.
function money(amount, currency) {
  const negative = amount < 0;
  const units = Math.abs(amount);
  const whole = Math.floor(units / 100);
  const cents = String(units % 100).padStart(2, "0");
  const symbol = currency === "CNY" ? "¥" : currency + " ";
  return (negative ? "-" : "") + symbol + whole + "." + cents;
}

function sendEvent(event) {
  command({ type: "event", event });
}

function renderNode(node) {
  switch (node.type) {
    case "text":
      return el("p", { class: "text tone-" + (node.tone || "normal"), text: node.text });
    case "heading":
      return el(node.level > 1 ? "h3" : "h2", { class: "heading", text: node.text });
    case "image":
      // The page fetches nothing beyond this server: an image is its alt text.
      return el("div", { class: "image", role: "img", "aria-label": node.alt, title: "image: " + node.src }, [
        el("span", { class: "image-mark", text: "▧" }),
        el("span", { text: node.alt }),
      ]);
    case "price": {
      const children = [el("span", { class: "now", text: money(node.amount, node.currency) })];
      if (node.original !== undefined && node.original !== null) {
        children.push(el("s", { class: "was", text: money(node.original, node.currency) }));
      }
      return el("div", { class: "price" }, children);
    }
    case "badge":
      return el("span", { class: "badge tone-" + (node.tone || "normal"), text: node.text });
    case "row":
      return el("div", { class: "row" }, node.children.map(renderNode));
    case "column":
      return el("div", { class: "column" }, node.children.map(renderNode));
    case "list":
      return el("ul", { class: "list" }, node.items.map((item) => el("li", null, [renderNode(item)])));
    case "button": {
      const children = [el("span", { class: "label", text: node.label })];
      if (node.key) children.push(el("kbd", { text: node.key }));
      return el("button", {
        type: "button",
        class: "button " + (node.style || "secondary"),
        "data-action": node.action,
        "data-key": node.key,
        disabled: node.disabled,
        onclick: () => sendEvent({ type: "tap", action: node.action, payload: node.payload === undefined ? null : node.payload }),
      }, children);
    }
    case "input": {
      const input = el("input", { class: "input", name: node.field, "data-field": node.field, placeholder: node.placeholder });
      input.value = node.value || "";
      const deliver = () => sendEvent({ type: "input", field: node.field, value: input.value });
      input.addEventListener("change", deliver);
      return el("label", { class: "field" }, [el("span", { text: node.label || node.field }), input]);
    }
    case "divider":
      return el("hr", { class: "divider" });
    default:
      return el("p", { class: "text tone-muted", text: "[unknown component " + node.type + "]" });
  }
}

function renderView(message) {
  const title = document.getElementById("title");
  const view = document.getElementById("view");
  clear(view);
  title.textContent = message.view ? message.view.title : "";
  if (message.view) {
    for (const node of message.view.body) view.appendChild(renderNode(node));
  } else {
    view.appendChild(el("p", { class: "text tone-muted", text: "(no view yet)" }));
  }
  document.getElementById("back").disabled = message.depth <= 1;
  const stack = document.getElementById("stack");
  clear(stack);
  const paths = message.pages.map((page) => page.path || "home");
  stack.appendChild(el("span", { text: "pages " + message.depth + "/" + message.max_pages + ": " + paths.join(" › ") }));
}

// ---------------------------------------------------------------- the host's dialogs

function answer(value) {
  if (!state.prompt) return;
  const prompt = state.prompt.prompt;
  closeDialog();
  command({ type: "answer", prompt, answer: String(value) });
}

function closeDialog() {
  state.prompt = null;
  const dialog = document.getElementById("dialog");
  dialog.classList.add("hidden");
  clear(dialog);
}

function hostHeader(text) {
  return el("div", { class: "host-header" }, [el("span", { class: "host-seal", text: "miniapp host" }), el("span", { text })]);
}

function showPrompt(message) {
  state.prompt = message;
  const dialog = document.getElementById("dialog");
  clear(dialog);
  const d = message.detail;
  const sheet = el("div", { class: "sheet kind-" + message.kind, "data-prompt": message.prompt, "data-kind": message.kind });
  switch (message.kind) {
    case "payment": {
      sheet.appendChild(hostHeader("Payment"));
      sheet.appendChild(el("div", { class: "amount", text: d.amount }));
      sheet.appendChild(el("div", { class: "payee", text: "to " + d.payee + " (merchant " + d.merchant_id + ")" }));
      sheet.appendChild(el("div", { class: "for", text: "for “" + d.description + "”" }));
      sheet.appendChild(el("div", { class: "asked", text: "asked by " + d.program }));
      d.methods.forEach((method, i) => {
        sheet.appendChild(el("button", { type: "button", class: "method", "data-method": d.method_ids[i], onclick: () => answer(i + 1) }, [
          el("span", { text: method }),
        ]));
      });
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "Cancel" }));
      break;
    }
    case "consent":
      sheet.appendChild(hostHeader("Permission"));
      sheet.appendChild(el("p", { text: d.program + " asks for your " + d.scope + "." }));
      sheet.appendChild(el("p", { class: "purpose", text: "“" + d.purpose + "”" }));
      sheet.appendChild(el("p", { class: "shared", text: "It would receive: " + d.shared }));
      sheet.appendChild(el("button", { type: "button", class: "allow", onclick: () => answer("yes"), text: "Allow" }));
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "Deny" }));
      break;
    case "choose_address":
      sheet.appendChild(hostHeader("Shipping address"));
      sheet.appendChild(el("p", { text: d.program + " asks for a shipping address." }));
      sheet.appendChild(el("p", { class: "purpose", text: "“" + d.purpose + "”" }));
      d.options.forEach((option, i) => {
        sheet.appendChild(el("button", { type: "button", class: "method", onclick: () => answer(i + 1), text: option }));
      });
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "Refuse" }));
      break;
    case "open_link":
      sheet.appendChild(hostHeader("Open link"));
      sheet.appendChild(el("p", { text: d.program + " wants to open (from " + d.surface + "):" }));
      sheet.appendChild(el("p", { class: "target", text: d.target }));
      sheet.appendChild(el("button", { type: "button", class: "allow", onclick: () => answer("yes"), text: "Open" }));
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "Cancel" }));
      break;
    case "share":
      sheet.appendChild(hostHeader("Share to " + d.surface));
      sheet.appendChild(el("p", { text: d.program + " wants to share:" }));
      sheet.appendChild(el("p", { class: "title", text: "“" + d.title + "”" }));
      sheet.appendChild(el("p", { class: "target", text: d.target }));
      sheet.appendChild(el("button", { type: "button", class: "allow", onclick: () => answer("yes"), text: "Share" }));
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "Cancel" }));
      break;
    default:
      for (const line of message.lines) sheet.appendChild(el("p", { text: line }));
      sheet.appendChild(el("button", { type: "button", class: "cancel", onclick: () => answer("no"), text: "No" }));
  }
  dialog.appendChild(sheet);
  dialog.classList.remove("hidden");
}

// ---------------------------------------------------------------- the stream

function consoleLine(kind, text) {
  const log = document.getElementById("console");
  log.appendChild(el("div", { class: "line " + kind }, [el("span", { class: "who", text: kind }), el("span", { text })]));
  log.scrollTop = log.scrollHeight;
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function hostCall(message) {
  const body = document.querySelector("#calls tbody");
  body.appendChild(el("tr", { class: message.status === "ok" ? "ok" : "failed" }, [
    el("td", { text: message.capability }),
    el("td", { text: message.function }),
    el("td", { class: "json", text: shown(message.request) }),
    el("td", { class: "json", text: shown(message.reply) }),
    el("td", { text: message.status }),
    el("td", { class: "num", text: String(message.micros) }),
  ]));
}

function setStatus(text, kind) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = "status " + (kind || "");
}

function handle(message) {
  if (typeof message.seq === "number") state.nextSeq = message.seq + 1;
  switch (message.type) {
    case "started":
      setStatus("session " + message.session + " · " + message.name + " " + message.version, "ok");
      break;
    case "launched":
      closeDialog();
      document.getElementById("ended").classList.add("hidden");
      consoleLine("host", "launched from " + message.context.surface + (message.context.path ? " at " + message.context.path : "") + " · module " + message.module_sha256.slice(0, 12));
      break;
    case "view":
      renderView(message);
      break;
    case "output":
      for (const line of message.lines) consoleLine(message.stream, line);
      break;
    case "notice":
      consoleLine("host", message.capability + ": " + message.message);
      break;
    case "host_call":
      hostCall(message);
      break;
    case "prompt":
      showPrompt(message);
      break;
    case "prompt_answered":
      if (state.prompt && state.prompt.prompt === message.prompt) closeDialog();
      break;
    case "callback":
      if (message.result !== "ok") consoleLine("host", message.callback + ": " + message.result);
      scheduleRefresh();
      break;
    case "ended": {
      const ended = document.getElementById("ended");
      ended.textContent = "The host ended the program: " + message.reason;
      ended.classList.remove("hidden");
      consoleLine("host", "ended: " + message.reason);
      break;
    }
    case "build":
      showBuild(message.ok ? null : message.message);
      consoleLine("host", message.ok ? message.message : "build failed");
      break;
    case "closed":
      setStatus("session closed", "bad");
      break;
    case "reply":
      if (message.error) consoleLine("host", "refused: " + message.error.message);
      break;
    case "dropped":
      consoleLine("host", message.count + " earlier messages were dropped");
      break;
  }
}

function showBuild(error) {
  const build = document.getElementById("build");
  if (error) {
    document.getElementById("build-output").textContent = error;
    build.classList.remove("hidden");
  } else {
    build.classList.add("hidden");
  }
}

function command(message) {
  state.requests += 1;
  message.id = state.requests;
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
  else consoleLine("host", "not connected to the session; relaunch or reload the page");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/api/sessions/" + state.session + "/stream?from=" + state.nextSeq);
  state.socket = socket;
  socket.addEventListener("message", (frame) => {
    try {
      handle(JSON.parse(frame.data));
    } catch (error) {
      consoleLine("host", "unreadable message: " + error);
    }
  });
  socket.addEventListener("close", () => {
    if (state.socket === socket) setStatus("disconnected", "bad");
  });
}

async function openSession() {
  if (state.session) {
    await api("DELETE", "/api/sessions/" + state.session).catch(() => {});
    if (state.socket) state.socket.close();
  }
  clear(document.getElementById("console"));
  clear(document.querySelector("#calls tbody"));
  clear(document.getElementById("view"));
  const opened = await api("POST", "/api/sessions", { program: state.program, launch: state.launch });
  state.session = opened.session;
  state.nextSeq = 0;
  document.getElementById("download").setAttribute("href", "/api/sessions/" + state.session + "/transcript");
  connect();
}

// ---------------------------------------------------------------- panels

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshPanel().catch(() => {}), 150);
}

function query(extra) {
  return "?program=" + encodeURIComponent(state.program) + (extra || "");
}

async function refreshPanel() {
  if (!state.program) return;
  switch (state.tab) {
    case "storage": return refreshStorage();
    case "ledger": return refreshLedger();
    case "audit": return refreshAudit();
    case "permissions": return refreshPermissions();
    case "links": return refreshLinks();
    case "payment": return refreshScenario();
  }
}

async function refreshStorage() {
  const data = await api("GET", "/api/programs/" + encodeURIComponent(state.program) + "/storage").catch((e) => ({ error: e }));
  const body = document.querySelector("#storage tbody");
  clear(body);
  if (data.error) {
    document.getElementById("storage-usage").textContent = String(data.error.message);
    return;
  }
  document.getElementById("storage-usage").textContent =
    data.key_count + " keys · " + data.used_bytes + " of " + data.quota_bytes + " bytes (largest entry " + data.max_entry_bytes + ")";
  for (const entry of data.entries) {
    body.appendChild(el("tr", { "data-key": entry.key }, [
      el("td", { text: entry.key }),
      el("td", { class: "json", text: JSON.stringify(entry.value) }),
      el("td", { class: "num", text: String(entry.size) }),
      el("td", null, [
        el("button", { type: "button", text: "Edit", onclick: () => {
          document.getElementById("storage-key").value = entry.key;
          document.getElementById("storage-value").value = JSON.stringify(entry.value);
        } }),
        el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
          await api("DELETE", "/api/programs/" + encodeURIComponent(state.program) + "/storage/" + encodeURIComponent(entry.key));
          refreshStorage();
        } }),
      ]),
    ]));
  }
}

async function saveStorage() {
  const error = document.getElementById("storage-error");
  error.textContent = "";
  const key = document.getElementById("storage-key").value;
  let value;
  try {
    value = JSON.parse(document.getElementById("storage-value").value);
  } catch (e) {
    error.textContent = "the value is not JSON: " + e.message;
    return;
  }
  try {
    await api("PUT", "/api/programs/" + encodeURIComponent(state.program) + "/storage/" + encodeURIComponent(key), value);
    refreshStorage();
  } catch (e) {
    error.textContent = e.message;
  }
}

async function refreshLedger() {
  const data = await api("GET", "/api/ledger" + query());
  const root = document.getElementById("ledger");
  clear(root);
  if (data.orders.length === 0) {
    root.appendChild(el("p", { class: "muted", text: "no orders yet" }));
    return;
  }
  const table = el("table", { id: "orders" }, [
    el("thead", null, [el("tr", null, ["order", "merchant", "amount", "state", "method", "attempt", "refunded"].map((h) => el("th", { text: h })))]),
  ]);
  const body = el("tbody");
  for (const order of data.orders) {
    const refunded = order.refunds.filter((r) => r.state === "success").reduce((sum, r) => sum + r.amount, 0);
    body.appendChild(el("tr", { class: "order", "data-order": order.out_trade_no, "data-state": order.state }, [
      el("td", { text: order.out_trade_no }),
      el("td", { text: order.merchant_id }),
      el("td", { class: "num", "data-amount": order.amount, text: money(order.amount, order.currency) }),
      el("td", { class: "state", text: order.state }),
      el("td", { text: order.method || "-" }),
      el("td", { class: "num", text: String(order.attempt) }),
      el("td", { class: "num", text: money(refunded, order.currency) }),
    ]));
    const detail = [];
    for (const event of order.events) detail.push("attempt " + event.attempt + ": " + event.from_state + " → " + event.to_state + " (" + event.cause + ")");
    for (const n of order.notifications) detail.push("notification " + n.provider + " " + n.outcome + " " + n.detail);
    for (const r of order.refunds) detail.push("refund " + r.out_refund_no + " " + money(r.amount, order.currency) + " " + r.state);
    if (order.receipt) detail.push("receipt " + shown(order.receipt).slice(0, 80) + "…");
    body.appendChild(el("tr", { class: "detail" }, [el("td", { colspan: 7 }, [el("pre", { text: detail.join("\n") })])]));
  }
  table.appendChild(body);
  root.appendChild(table);
}

async function refreshAudit() {
  const data = await api("GET", "/api/audit" + query("&limit=200"));
  const body = document.querySelector("#audit tbody");
  clear(body);
  for (const d of data.decisions) {
    body.appendChild(el("tr", { class: d.outcome }, [
      el("td", { text: new Date(d.at_ms).toLocaleTimeString() }),
      el("td", { text: d.capability }),
      el("td", { text: d.action }),
      el("td", { text: d.outcome }),
      el("td", { text: d.reason }),
      el("td", { text: d.target || "" }),
    ]));
  }
}

async function refreshPermissions() {
  const data = await api("GET", "/api/permissions");
  const body = document.querySelector("#permissions tbody");
  clear(body);
  document.getElementById("permissions-empty").textContent = data.grants.length ? "" : "no remembered answers";
  for (const g of data.grants) {
    body.appendChild(el("tr", null, [
      el("td", { text: g.program_id }),
      el("td", { text: g.scope }),
      el("td", { text: shown(g.decision) }),
      el("td", { text: g.module_hash.slice(0, 12) }),
      el("td", null, [el("button", { type: "button", class: "danger", text: "Revoke", onclick: async () => {
        await api("DELETE", "/api/permissions/" + encodeURIComponent(g.program_id) + "/" + encodeURIComponent(g.scope));
        refreshPermissions();
      } })]),
    ]));
  }
}

async function refreshLinks() {
  const data = await api("GET", "/api/settings");
  const root = document.getElementById("links");
  clear(root);
  for (const link of data.links) {
    const rules = Object.entries(link.rules).map(([kind, rule]) => kind + " " + rule).join(", ") || "none (all denied)";
    const row = el("div", { class: "switch-row" });
    if (link.switch === null) {
      row.appendChild(el("span", { class: "muted", text: link.surface + ": no switch" }));
    } else {
      const box = el("input", { type: "checkbox", id: "switch-" + link.surface, "data-surface": link.surface });
      box.checked = link.switch;
      box.addEventListener("change", async () => {
        await api("PUT", "/api/settings/links/" + link.surface, { enabled: box.checked });
        refreshLinks();
      });
      row.appendChild(el("label", { for: "switch-" + link.surface }, [box, " links on " + link.surface]));
    }
    row.appendChild(el("span", { class: "rules", text: rules }));
    root.appendChild(row);
  }
}

async function refreshScenario() {
  const data = await api("GET", "/api/payment-scenario");
  const select = document.getElementById("scenario");
  if (select.options.length === 0) {
    select.appendChild(el("option", { value: "", text: "as configured" }));
    for (const name of data.scenarios) select.appendChild(el("option", { value: name, text: name }));
  }
  select.value = data.scenario || "";
  document.getElementById("scenario-state").textContent = data.scenario ? "set: " + data.scenario : "as configured";
}

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === tab);
  for (const panel of document.querySelectorAll(".panel")) panel.classList.toggle("hidden", panel.id !== "panel-" + tab);
  refreshPanel().catch((e) => consoleLine("host", e.message));
}

function readLaunch() {
  const query = {};
  for (const line of document.getElementById("launch-query").value.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf("=");
    if (at <= 0) throw new Error("`" + trimmed + "` is not KEY=VALUE");
    query[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  const referrer = document.getElementById("launch-referrer").value.trim();
  return {
    surface: document.getElementById("launch-surface").value,
    path: document.getElementById("launch-path").value.trim(),
    query,
    referrer: referrer || null,
  };
}

// ---------------------------------------------------------------- start

async function start() {
  // The token now lives in the page's cookie; keep it out of the address bar.
  if (location.search.includes("token=")) history.replaceState(null, "", location.pathname);
  const info = await api("GET", "/api");
  const select = document.getElementById("program");
  const { programs } = await api("GET", "/api/programs");
  for (const p of programs) select.appendChild(el("option", { value: p.id, text: p.name + " (" + p.id + ")" }));
  const surfaces = document.getElementById("launch-surface");
  for (const s of info.surfaces) surfaces.appendChild(el("option", { value: s, text: s }));
  showBuild(info.build_error);
  state.program = info.dev_program || (programs[0] && programs[0].id) || null;
  if (!state.program) {
    setStatus("no program loaded: POST /api/programs, or run miniapp dev APP_DIR", "bad");
    return;
  }
  select.value = state.program;
  select.addEventListener("change", () => {
    state.program = select.value;
    openSession().catch((e) => setStatus(e.message, "bad"));
  });
  document.getElementById("back").addEventListener("click", () => command({ type: "back" }));
  document.getElementById("relaunch").addEventListener("click", () => command({ type: "relaunch" }));
  document.getElementById("storage-save").addEventListener("click", saveStorage);
  document.getElementById("scenario").addEventListener("change", async (e) => {
    await api("PUT", "/api/payment-scenario", { scenario: e.target.value || null });
    refreshScenario();
  });
  document.getElementById("launch-go").addEventListener("click", () => {
    const error = document.getElementById("launch-error");
    error.textContent = "";
    try {
      state.launch = readLaunch();
    } catch (e) {
      error.textContent = e.message;
      return;
    }
    command({ type: "relaunch", launch: state.launch });
  });
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));
  await openSession();
}

document.addEventListener("DOMContentLoaded", () => start().catch((e) => setStatus(e.message, "bad")));
// A button's key taps it, as at the terminal; Escape is the host's back button.
document.addEventListener("keydown", (event) => {
  const typing = event.target && ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName);
  if (state.prompt || typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape") {
    event.preventDefault();
    command({ type: "back" });
    return;
  }
  if (event.key.length !== 1) return;
  const key = event.key.toLowerCase();
  const button = Array.from(document.querySelectorAll("#view button[data-key]")).find((b) => b.dataset.key === key && !b.disabled);
  if (button) {
    event.preventDefault();
    button.click();
  }
});

// Leaving the page closes its session, so reloads do not pile sessions up.
window.addEventListener("pagehide", () => {
  if (state.session) fetch("/api/sessions/" + state.session, { method: "DELETE", keepalive: true, credentials: "same-origin" });
});
