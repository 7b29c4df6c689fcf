// byoc-router console: plain JavaScript, no build step. Text goes into the page with
// textContent only, never as HTML.
"use strict";
(() => {
  // Every error the page meets is shown and kept for the browser tests.
  const errors = [];
  window.__consoleErrors = errors;
  const report = (msg) => { errors.push(String(msg)); banner(String(msg)); };
  window.addEventListener("error", (e) => report(e.message));
  window.addEventListener("unhandledrejection", (e) => report((e.reason && e.reason.message) || e.reason));
  document.addEventListener("securitypolicyviolation", (e) => report("CSP violation: " + e.violatedDirective));

  // The token arrives once in the URL (#token= or ?token=) and then lives in this tab only.
  let token = new URLSearchParams(location.hash.slice(1)).get("token") ||
    new URLSearchParams(location.search).get("token");
  if (token) {
    sessionStorage.setItem("byoc-token", token);
    history.replaceState(null, "", "/");
  } else {
    token = sessionStorage.getItem("byoc-token");
  }

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c));
    return node;
  };
  function banner(text) {
    $("banner").textContent = text;
    $("banner").hidden = !text;
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data;
    try { data = await res.json(); } catch { data = { error: res.status + " " + res.statusText }; }
    return { status: res.status, ok: res.ok, data };
  }
  const fail = (r) => banner((r.data.error || "request failed") + (r.data.fix ? " — fix: " + r.data.fix : ""));

  const state = { info: null, rows: [], cursors: [null], page: 0, size: 50, counted: null, notice: "", editing: null };
  const JSON_FIELDS = ["schedule", "targets", "final", "shares", "callers", "task_attributes"];
  const COMMON = ["schedule", "callers", "description"];
  const LONG = ["twiml", "text", ...JSON_FIELDS];

  // --- views ---
  document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
  function show(view) {
    document.querySelectorAll(".tab").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === view)));
    ["routes", "test", "import", "calls"].forEach((v) => { $("view-" + v).hidden = v !== view; });
    if (view === "calls" && !state.callsLoaded) loadCalls();
  }

  // --- routes table ---
  const when = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString() + " (" + d.toISOString().slice(0, 16).replace("T", " ") + " UTC)";
  };

  async function load() {
    if (!token) {
      banner("No token: open the console with the URL `byoc console` printed (it ends in #token=…).");
      $("store").textContent = "Not connected.";
      return;
    }
    const info = await api("GET", "/api/info");
    if (!info.ok) return fail(info);
    state.info = info.data;
    $("store").textContent = info.data.store + (info.data.read_only ? " — read-only (restart with --routes FILE or --table NAME to edit)" : "") + " · changes recorded as " + info.data.actor;
    const actionFilter = $("f-action");
    if (actionFilter.options.length === 1) info.data.actions.forEach((a) => actionFilter.append(el("option", { value: a.name, text: a.name })));
    await refresh();
  }

  // The server filters and pages: the page holds one page of rows. `cursors[n]` is where
  // page n starts (the key before it); a new filter starts again at page 0.
  const filters = () => {
    const q = new URLSearchParams();
    [["text", "f-text"], ["prefix", "f-prefix"], ["action", "f-action"], ["scope", "f-scope"]].forEach(([k, id]) => {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    });
    return q;
  };
  let loading = 0;
  // Loads page `page` (the current one by default); the page number changes only when its
  // rows arrive, and Previous / Next wait for them. `recount`: the filters or the routes
  // changed (paging alone does not change the counts).
  async function refresh(page = state.page, recount = true) {
    const seq = ++loading;
    $("prev").disabled = true;
    $("next").disabled = true;
    const q = filters();
    q.set("limit", String(state.size));
    const after = state.cursors[page];
    if (after) q.set("after", after);
    const r = await api("GET", "/api/routes?" + q.toString());
    if (seq !== loading) return;
    if (!r.ok) { $("count").textContent = "Routes could not be loaded."; render(); return fail(r); }
    banner("");
    state.page = page;
    state.rows = r.data.routes;
    state.cursors[page + 1] = r.data.next || null;
    render();
    if (recount) count(); else renderCount();
  }
  let counting = 0;
  async function count() {
    const seq = ++counting;
    state.counted = null;
    renderCount();
    const r = await api("GET", "/api/routes/count?" + filters().toString());
    if (seq !== counting || !r.ok) return;
    state.counted = r.data;
    renderCount();
  }
  function renderCount() {
    const c = state.counted;
    $("count").textContent = state.notice + (c
      ? c.matched + " of " + c.total + " routes, sorted by pattern"
      : "Counting routes… (sorted by pattern)");
    if (c) {
      const pages = Math.max(1, Math.ceil(c.matched / state.size));
      $("page").textContent = "Page " + (state.page + 1) + " of " + pages;
    }
  }
  let typing;
  function filter() {
    clearTimeout(typing);
    typing = setTimeout(() => { state.notice = ""; state.cursors = [null]; refresh(0); }, 150);
  }
  ["f-text", "f-prefix", "f-scope"].forEach((id) => $(id).addEventListener("input", filter));
  $("f-action").addEventListener("change", filter);
  $("filter").addEventListener("submit", (e) => e.preventDefault());

  function render() {
    const body = document.querySelector("#routes tbody");
    const rows = state.rows;
    body.replaceChildren(...rows.map((r) => el("tr", {},
      el("td", {}, el("button", { type: "button", class: "link", text: r.pattern, "aria-label": "Edit route " + r.key, onclick: () => edit(r.key) })),
      el("td", { text: r.scope || "" }),
      el("td", { text: r.action || "redirect" }),
      r.unreadable
        ? el("td", { class: "target unreadable", text: "Unreadable stored item (" + r.unreadable + "): its calls get the degraded answer. Open it and save a route over it, or delete it." })
        : el("td", { class: "target" }, r.target, ...(r.warnings || []).map((w) => el("div", { class: "warning", role: "note", text: "⚠ " + w }))),
      el("td", { text: r.description || "" }),
      el("td", { text: String(r.version) }),
      el("td", { text: (r.updated_by || "") + (r.updated_at ? " · " + when(r.updated_at) : "") }),
      el("td", {}, el("button", { type: "button", text: "Test", "aria-label": "Test a call to " + r.key, onclick: () => testRoute(r) })))));
    if (!rows.length) {
      const filtered = [...filters().keys()].length;
      body.append(el("tr", {}, el("td", { colspan: "8", text: filtered || state.page
        ? "No route matches the filter."
        : "No routes yet: create one with New route, or import a file." })));
    }
    $("page").textContent = "Page " + (state.page + 1);
    $("prev").disabled = state.page === 0;
    $("next").disabled = !state.cursors[state.page + 1];
  }
  $("prev").addEventListener("click", () => {
    if (state.page > 0) { state.notice = ""; refresh(state.page - 1, false); }
  });
  $("next").addEventListener("click", () => {
    if (state.cursors[state.page + 1]) { state.notice = ""; refresh(state.page + 1, false); }
  });

  // --- editor ---
  const dialog = $("editor");
  const fieldsFor = (action) => {
    const a = state.info.actions.find((x) => x.name === action) || state.info.actions[0];
    return ["pattern", "scope", "action", ...a.fields, ...COMMON];
  };
  function values() {
    if ($("e-raw-toggle").checked) {
      try { return JSON.parse($("e-raw").value); } catch (e) { throw new Error("Route JSON: " + e.message); }
    }
    const record = {};
    dialog.querySelectorAll("[data-field]").forEach((input) => {
      const v = input.value.trim();
      if (v !== "") record[input.dataset.field] = v;
    });
    return record;
  }
  function drawFields(record) {
    const box = $("e-fields");
    const action = record.action || "redirect";
    box.replaceChildren(...fieldsFor(action).map((name) => {
      const id = "e-f-" + name;
      let input;
      if (name === "action") {
        input = el("select", { id }, state.info.actions.map((a) => el("option", { value: a.name, text: a.name })));
        input.value = action;
        input.addEventListener("change", () => { const r = values(); r.action = input.value; drawFields(r); });
      } else if (LONG.includes(name)) {
        input = el("textarea", { id, rows: "4", spellcheck: "false" });
      } else {
        input = el("input", { id });
      }
      if (name !== "action") {
        const v = record[name];
        input.value = v === undefined || v === null ? "" : (typeof v === "object" ? JSON.stringify(v, null, 1) : String(v));
      }
      input.dataset.field = name;
      const error = el("span", { class: "field-error", id: id + "-error", "aria-live": "polite" });
      input.setAttribute("aria-describedby", error.id);
      return el("label", { class: LONG.includes(name) ? "wide" : "" }, name + (JSON_FIELDS.includes(name) ? " (JSON)" : ""), input, error);
    }));
  }
  function clearErrors() {
    $("e-error").hidden = true;
    $("e-conflict").hidden = true;
    dialog.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    dialog.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }
  function open(record, version, key) {
    state.editing = { version, key, record };
    clearErrors();
    $("editor-title").textContent = key ? "Route " + key + " (version " + version + ")" : "New route";
    $("e-raw-toggle").checked = false;
    $("e-raw-label").hidden = true;
    $("e-fields").hidden = false;
    $("e-history-list").replaceChildren();
    ["e-delete", "e-history", "e-test"].forEach((id) => { $(id).hidden = !key; });
    drawFields(record);
    if (!dialog.open) dialog.showModal();
    dialog.querySelector("[data-field]").focus();
  }
  const strip = (r) => { const c = { ...r }; ["key", "kind", "summary", "target", "unreadable", "version", "updated_at", "updated_by"].forEach((k) => delete c[k]); return c; };
  async function edit(key) {
    const r = await api("GET", "/api/route?key=" + encodeURIComponent(key));
    if (!r.ok) return fail(r);
    open(strip(r.data.route), r.data.route.version, r.data.route.key);
    if (r.data.route.unreadable) showError("The stored item cannot be read (" + r.data.route.unreadable + "): nothing of it can be kept. What you save replaces it; Delete removes it.");
  }
  $("new-route").addEventListener("click", () => open({ action: "redirect", method: "POST" }, null, null));
  $("e-cancel").addEventListener("click", () => dialog.close());
  $("e-raw-toggle").addEventListener("change", () => {
    const raw = $("e-raw-toggle").checked;
    try {
      if (raw) { $("e-raw").value = JSON.stringify(values(), null, 2); }
      else { drawFields(JSON.parse($("e-raw").value)); }
    } catch (e) { $("e-raw-toggle").checked = !raw; showError(e.message); return; }
    $("e-raw-label").hidden = !raw;
    $("e-fields").hidden = raw;
  });
  function showError(message, field) {
    const input = field && !$("e-raw-toggle").checked ? dialog.querySelector('[data-field="' + field + '"]') : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      $(input.id + "-error").textContent = message;
      input.focus();
    }
    $("e-error").textContent = message;
    $("e-error").hidden = false;
  }
  async function save(version) {
    clearErrors();
    let record;
    try { record = values(); } catch (e) { return showError(e.message); }
    const r = await api("POST", "/api/route", { record, version, key: state.editing.key });
    if (r.ok) {
      dialog.close();
      const warned = (r.data.warnings || []).length ? " Warning: " + r.data.warnings.join("; ") + ". " : "";
      state.notice = (r.data.unchanged ? "No change to " + r.data.route.key + ": nothing written. " : "Saved " + r.data.route.key + " (version " + r.data.route.version + "). ") + warned;
      await refresh();
      banner("");
      return;
    }
    if (r.status === 409) return conflict(record, r.data);
    showError(r.data.error || "not saved", r.data.field);
  }
  function conflict(mine, data) {
    $("e-conflict").hidden = false;
    $("e-mine").textContent = JSON.stringify(mine, null, 2);
    $("e-theirs").textContent = data.current ? JSON.stringify(strip(data.current), null, 2) + "\n(version " + data.current.version + " by " + (data.current.updated_by || "?") + ")" : "(deleted)";
    $("e-error").textContent = data.error;
    $("e-error").hidden = false;
    state.editing.current = data.current;
    $("e-reload").focus();
  }
  $("e-reload").addEventListener("click", () => {
    const c = state.editing.current;
    if (c) open(strip(c), c.version, c.key); else dialog.close();
    state.notice = "";
    refresh();
  });
  $("e-overwrite").addEventListener("click", () => {
    const c = state.editing.current;
    state.editing.key = c ? c.key : null;
    save(c ? c.version : null);
  });
  $("route-form").addEventListener("submit", (e) => { e.preventDefault(); save(state.editing.version); });
  $("e-delete").addEventListener("click", async () => {
    const { key, version } = state.editing;
    if (!confirm("Delete route " + key + " (version " + version + ")? Calls it answers will go to the next matching route.")) return;
    const r = await api("POST", "/api/route/delete", { key, version });
    if (r.ok) { dialog.close(); state.notice = "Deleted " + key + ". "; return refresh(); }
    if (r.status === 409) return conflict(strip(state.editing.record), r.data);
    showError(r.data.error);
  });
  $("e-history").addEventListener("click", async () => {
    const r = await api("GET", "/api/history?key=" + encodeURIComponent(state.editing.key));
    if (!r.ok) return showError(r.data.error);
    $("e-history-list").replaceChildren(el("h3", { text: "History (oldest first)" }),
      r.data.changes.length ? el("ol", {}, r.data.changes.map(change)) : el("p", { text: "No recorded changes." }));
  });
  function change(c) {
    const before = c.before || {}, after = c.after || {};
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((n) => !["version", "updated_at", "updated_by"].includes(n)).sort();
    const lines = names.flatMap((n) => {
      const a = JSON.stringify(before[n]), b = JSON.stringify(after[n]);
      if (a === b) return [];
      if (a === undefined) return [el("li", { class: "diff-add", text: "+ " + n + ": " + b })];
      if (b === undefined) return [el("li", { class: "diff-del", text: "− " + n + ": " + a })];
      return [el("li", { class: "diff-chg", text: "~ " + n + ": " + a + " → " + b })];
    });
    return el("li", {}, el("p", { text: c.op + " · version " + c.version + " · " + (c.by || "?") + " · " + when(c.at) }), el("ul", {}, lines));
  }

  // --- test a call ---
  function sample(r) {
    if (r.kind === "exact" || r.kind === "literal") return r.pattern;
    if (r.kind === "prefix") {
      const digits = r.pattern.slice(1, -1);
      const want = (state.info.default_country_code === "1" ? 11 : 12);
      return "+" + digits + "0".repeat(Math.max(0, want - digits.length));
    }
    return "+" + state.info.default_country_code + "5550100";
  }
  function testRoute(r) {
    $("t-number").value = sample(r);
    $("t-scope").value = r.scope || "";
    const sched = typeof r.schedule === "object" && r.schedule ? r.schedule.timezone : null;
    if (sched) $("t-tz").value = sched;
    if (dialog.open) dialog.close();
    show("test");
    $("t-number").focus();
  }
  $("e-test").addEventListener("click", async () => {
    const r = state.rows.find((x) => x.key === state.editing.key);
    if (r) return testRoute(r);
    const got = await api("GET", "/api/route?key=" + encodeURIComponent(state.editing.key));
    if (got.ok) testRoute(got.data.route);
  });
  if (!$("t-tz").value) $("t-tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("test-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/api/resolve", {
      number: $("t-number").value, from: $("t-from").value, verstat: $("t-verstat").value,
      scope: $("t-scope").value,
      at: $("t-at").value, tz: $("t-tz").value, country: $("t-country").value,
    });
    const out = $("t-result");
    if (!r.ok) { out.replaceChildren(el("dt", { text: "error" }), el("dd", { class: "error", text: r.data.error })); return; }
    const at = new Date(r.data.at);
    out.replaceChildren(...r.data.lines.flatMap(([label, value]) => [el("dt", { text: label }), el("dd", { text: value })]),
      el("dt", { text: "at" }), el("dd", { text: at.toLocaleString("en-GB", { timeZone: $("t-tz").value || "UTC", timeZoneName: "short" }) + " · " + at.toISOString() }));
  });

  // --- import / export ---
  let pending = null;
  $("import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("i-file").files[0];
    if (!file) return banner("Choose a file to import.");
    pending = { text: await file.text(), name: file.name, format: $("i-format").value, prune: $("i-prune").checked };
    const r = await api("POST", "/api/import", { ...pending, apply: false });
    const out = $("i-result");
    if (!r.ok) {
      pending = null;
      return out.replaceChildren(el("p", { class: "error", text: r.data.error.split("\n")[0] }),
        el("ul", {}, (r.data.errors || []).map((x) => el("li", { class: "error", text: "line " + x.line + ": " + x.message }))));
    }
    const d = r.data;
    const list = (items, cls, sign) => items.map((x) => el("li", { class: cls, text: sign + " " + x.summary }));
    out.replaceChildren(
      el("p", { text: d.read + " routes read (" + d.format + "): " + d.added.length + " added, " + d.changed.length + " changed, " + d.unchanged + " unchanged, " + d.absent.length + (d.prune ? " removed" : " not in the file (kept)") }),
      el("ul", {}, list(d.added, "diff-add", "+"), list(d.changed, "diff-chg", "~"), list(d.absent, d.prune ? "diff-del" : "", d.prune ? "−" : "=")),
      d.prune_risk ? el("p", { class: "error", text: "Careful: this prune deletes " + d.prune_risk + "." }) : "",
      el("ul", {}, (d.warnings || []).map((w) => el("li", { class: "error", text: "Warning: " + w }))),
      d.writes ? el("button", { type: "button", id: "i-apply", class: d.prune_risk ? "danger" : "", text: "Apply " + d.writes + " change(s)", onclick: apply }) : el("p", { text: "Nothing to write." }));
    pending.risk = d.prune_risk;
  });
  async function apply() {
    if (!pending) return;
    const risk = pending.risk;
    delete pending.risk;
    if (risk && !confirm("This import deletes " + risk + ". Apply it?")) { pending.risk = risk; return; }
    pending.confirm_prune = Boolean(risk);
    const button = $("i-apply");
    button.disabled = true;
    button.textContent = "Applying…";
    // The apply answers when it is done; meanwhile its progress is asked for.
    const timer = setInterval(async () => {
      const p = await api("GET", "/api/import/progress");
      if (p.ok && p.data.total) button.textContent = "Applying… " + p.data.done + " of " + p.data.total;
    }, 500);
    const r = await api("POST", "/api/import", { ...pending, apply: true }).finally(() => clearInterval(timer));
    pending = null;
    const out = $("i-result");
    if (!r.ok) return out.append(el("p", { class: "error", text: r.data.error }));
    out.replaceChildren(el("p", { text: "Imported: " + r.data.written + " change(s) written." }),
      el("ul", {}, r.data.conflicts.map((c) => el("li", { class: "error", text: "not written: " + c }))));
    state.notice = "";
    refresh();
  }
  async function download(format) {
    const res = await fetch("/api/export?format=" + format, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) return banner("Export failed: " + res.status);
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: "routes." + format });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
  $("export-json").addEventListener("click", () => download("json"));
  $("export-csv").addEventListener("click", () => download("csv"));

  load();
  // --- calls ---
  const utc = (iso) => (iso || "").replace("T", " ").replace("Z", "");
  const micros = (us) => us === undefined || us === null ? "-" : us < 10000 ? us + " µs" : (us / 1000).toFixed(1) + " ms";
  const callsQuery = (extra) => {
    const q = new URLSearchParams();
    [["since", "c-since"], ["until", "c-until"], ["number", "c-number"], ["outcome", "c-outcome"]].forEach(([k, id]) => {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    });
    Object.entries(extra || {}).forEach(([k, v]) => q.set(k, v));
    return q.toString();
  };
  function detailOf(c) {
    const parts = [];
    if (c.caller_rule) parts.push("caller: " + c.caller_rule);
    if (c.schedule) parts.push("schedule: " + c.schedule);
    if (c.reason) parts.push(c.reason);
    if (c.refusal) parts.push("refused: " + c.refusal);
    if (c.dial_call_status) parts.push("dial: " + c.dial_call_status);
    if (c.trunk) parts.push("trunk: " + c.trunk);
    if (c.share) parts.push("share " + c.share);
    return parts.join(" · ");
  }
  async function loadCalls() {
    if (!state.info.calls) {
      $("c-source").textContent = "No calls to show: restart the console with --calls FILE (a `byoc serve --log-format json` log), --stack NAME or --log-group NAME.";
      $("calls-form").hidden = true;
      return;
    }
    state.callsLoaded = true;
    $("c-source").textContent = "Calls from " + state.info.calls + ".";
    $("c-totals").textContent = "Loading calls…";
    const r = await api("GET", "/api/calls?" + callsQuery());
    if (!r.ok) { $("c-totals").textContent = "Calls could not be read."; return fail(r); }
    banner("");
    const empty = { endpoints: [], routes: [], fall_through: [], inbound_calls: 0, degraded: 0, rejected: 0 };
    const s = r.data.summary || empty;
    const skipped = r.data.tally.unreadable ? " · " + r.data.tally.unreadable + " unreadable line(s) skipped" : "";
    $("c-totals").textContent = (r.data.summary_error ? "No summary: " + r.data.summary_error + " · "
      : s.endpoints.length
        ? s.inbound_calls + " inbound calls, " + s.degraded + " degraded, " + s.rejected + " rejected · latency p50 " + micros(s.p50_us) + ", p99 " + micros(s.p99_us)
        : "No calls") + " between " + utc(r.data.window.since) + " and " + utc(r.data.window.until) + " UTC" + skipped;
    $("c-routes").tBodies[0].replaceChildren(...s.routes.map((row) => el("tr", {},
      el("td", { text: row.pattern || "(none)" }),
      el("td", { class: "num", text: String(row.calls) }),
      el("td", { text: Object.entries(row.outcomes).map(([o, n]) => o + " " + n).join(", ") }))));
    $("c-numbers").tBodies[0].replaceChildren(...(s.fall_through.length ? s.fall_through.map((row) => el("tr", {},
      el("td", { text: row.did || "(unreadable)" }),
      el("td", { class: "num", text: String(row.calls) }),
      el("td", { text: row.outcome }),
      el("td", { text: utc(row.last_call) }),
      el("td", {}, row.did && row.did.startsWith("+")
        ? el("button", { type: "button", text: "Create a route", "aria-label": "Create a route for " + row.did,
          onclick: () => open({ pattern: row.did, action: "redirect", method: "POST" }, null, null) })
        : ""))) : [el("tr", {}, el("td", { colspan: "5", text: "None: every call found a route of its own." }))]));
    $("c-recent").tBodies[0].replaceChildren(...(r.data.calls.length ? r.data.calls.map((c) => el("tr", {},
      el("td", { text: utc(c.timestamp) }),
      el("td", { text: c.endpoint }),
      el("td", { text: c.did || "" }),
      el("td", { text: c.pattern === "" && c.endpoint.startsWith("inbound") ? "(none)" : (c.pattern || "") }),
      el("td", { text: c.action || "" }),
      el("td", { text: c.outcome }),
      el("td", { text: detailOf(c) }),
      el("td", { class: "num", text: micros(c.latency_us) }),
      el("td", {}, /^CA[0-9a-fA-F]{32}$/.test(c.call_sid)
        ? el("button", { type: "button", class: "link", text: c.call_sid, "aria-label": "Every line of call " + c.call_sid, onclick: () => showCall(c.call_sid, c.timestamp) })
        : c.call_sid))) : [el("tr", {}, el("td", { colspan: "9", text: r.data.tally.in_window
          ? "No line in this window matches the number or outcome given."
          : "No calls in this window: widen Since." }))]));
    if (r.data.tally.matched > r.data.calls.length) {
      $("c-totals").textContent += " · the latest " + r.data.calls.length + " of " + r.data.tally.matched + " lines shown";
    }
  }
  async function showCall(sid, at) {
    // A day either side of the line clicked: a call's lines are minutes apart at most.
    const t = Date.parse(at);
    const day = 86400000;
    const q = new URLSearchParams({ call: sid });
    if (!isNaN(t)) { q.set("since", new Date(t - day).toISOString()); q.set("until", new Date(t + day).toISOString()); }
    const r = await api("GET", "/api/calls?" + q.toString());
    if (!r.ok) return fail(r);
    const skip = ["timestamp", "endpoint", "outcome", "call_sid", "message", "level"];
    $("c-detail-title").textContent = "Call " + sid + ": " + r.data.lines.length + " line(s)";
    $("c-lines").tBodies[0].replaceChildren(...r.data.lines.map((line) => el("tr", {},
      el("td", { text: utc(line.timestamp) }),
      el("td", { text: line.endpoint }),
      el("td", { text: line.outcome }),
      el("td", { class: "fields", text: Object.entries(line).filter(([k, v]) => !skip.includes(k) && v !== "" && v !== null)
        .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join("  ") }))));
    $("c-detail").hidden = false;
    $("c-detail").scrollIntoView();
  }
  $("calls-form").addEventListener("submit", (e) => { e.preventDefault(); $("c-detail").hidden = true; loadCalls(); });
})();
