// The dashboard: campaigns and their numbers, a chart per campaign,
// creating campaigns and codes, CSV exports, printable code sheets and API
// keys. The page is public; every call for data sends the admin key the
// person entered once (kept in localStorage).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "promo.admin.key";
  const view = $("view");

  // ---- the key and requests ---------------------------------------------

  const key = () => localStorage.getItem(KEY) || "";

  class APIError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || "the server answered " + status);
      this.status = status;
      this.code = e.code || "";
      this.field = e.field || "";
    }
  }

  // api calls the API with the key and returns the decoded JSON (or the
  // Response itself when raw). A 401 signs out.
  async function api(method, path, body, opts) {
    const headers = { "Authorization": "Bearer " + key() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, (opts && opts.headers) || {});
    const res = await fetch(path, {
      method, headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch (_) { /* not JSON */ }
      const err = new APIError(res.status, data);
      if (res.status === 401) signOut(err.message);
      throw err;
    }
    if (opts && opts.raw) return res;
    if (res.status === 204) return null;
    return res.json();
  }

  function toast(text, bad) {
    const t = $("toast");
    t.textContent = text;
    t.className = "toast" + (bad ? " bad" : "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 4000);
  }

  // ---- sign in --------------------------------------------------------------

  function showLogin(message) {
    $("nav").hidden = true;
    view.replaceChildren();
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("login-key").focus();
  }

  function signOut(message) {
    localStorage.removeItem(KEY);
    showLogin(message);
  }

  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const k = $("login-key").value.trim();
    if (!k) return;
    localStorage.setItem(KEY, k);
    try {
      await api("GET", "/v1/keys"); // admin only: proves the key's role
    } catch (e) {
      localStorage.removeItem(KEY);
      showLogin(e.code === "forbidden" ? "This key is not an admin key." : e.message);
      return;
    }
    $("login-key").value = "";
    $("login").hidden = true;
    route();
  });
  $("sign-out").addEventListener("click", () => signOut(""));

  // ---- formatting -------------------------------------------------------------

  const num = (n) => (n || 0).toLocaleString("en");
  const pct = (r) => (r === null || r === undefined ? "—" : (r * 100).toFixed(1) + "%");
  // money is an amount in minor units, always labelled: with its
  // currency, or as "800 (no currency)" for a campaign without one (its
  // amounts are the orders' own minor units, whatever their currency).
  function money(n, currency) {
    n = n || 0;
    if (!currency) return n.toLocaleString("en") + " (no currency)";
    const s = (n < 0 ? "-" : "") + Math.floor(Math.abs(n) / 100).toLocaleString("en") + "." + String(Math.abs(n) % 100).padStart(2, "0");
    return s + " " + currency;
  }
  function parseMoney(text) {
    const t = String(text || "").trim().replace(",", ".");
    if (t === "") return 0;
    const m = /^(\d{1,12})(?:\.(\d{0,2}))?$/.exec(t);
    return m ? Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0")) : null;
  }
  function benefitText(b) {
    if (!b) return "";
    switch (b.type) {
      case "percent": return b.value + "% off";
      case "amount": return money(b.value, b.currency) + " off";
      case "free_shipping": return "free shipping";
      default: return b.text || b.type;
    }
  }
  function when(t) {
    if (!t) return "—";
    const d = new Date(t);
    return isNaN(d) ? "—" : d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    e.append(...children.flat().filter((c) => c !== null && c !== undefined).map((c) => (c instanceof Node ? c : String(c))));
    return e;
  }

  function card(label, value, note) {
    return h("div", { class: "card", dataset: { card: label } }, h("div", { class: "card-value" }, value), h("div", { class: "card-label" }, label),
      note ? h("div", { class: "card-note" }, note) : null);
  }

  function fromTemplate(id) {
    const node = $(id).content.cloneNode(true);
    const part = (role) => node.querySelector(`[data-role="${role}"]`);
    return { node, part };
  }

  // ---- routes -------------------------------------------------------------------

  async function route() {
    if (!key()) { showLogin(""); return; }
    $("login").hidden = true;
    $("nav").hidden = false;
    const hash = location.hash.replace(/^#\/?/, "");
    const [page, ...rest] = hash.split("/");
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.getAttribute("href") === "#/" + (page === "campaign" ? "" : page));
    }
    try {
      if (page === "campaign" && rest[0]) await showCampaign(decodeURIComponent(rest[0]));
      else if (page === "new") showNew();
      else if (page === "keys") await showKeys();
      else await showOverview();
    } catch (e) {
      if (e.status !== 401) {
        view.replaceChildren(h("div", { class: "panel" }, h("p", { class: "error" }, e.message)));
      }
    }
  }
  window.addEventListener("hashchange", route);

  // ---- overview -------------------------------------------------------------------

  async function showOverview() {
    const [stats, list] = await Promise.all([api("GET", "/v1/stats"), api("GET", "/v1/campaigns")]);
    const byID = new Map(list.campaigns.map((c) => [c.id, c]));
    const { node, part } = fromTemplate("tpl-overview");
    const t = stats.totals;
    const usesAvailable = stats.campaigns.reduce((a, s) => a + (s.uses_available || 0), 0);
    part("totals").append(
      card("campaigns", num(stats.campaigns.length)),
      card("codes", num(t.codes), num(t.by_state.available) + " available"),
      card("handed out", num(t.ever_assigned), "codes ever assigned · " + num(t.assigned_now) + " assigned now"),
      card("redeemed", num(t.redeemed), t.rolled_back ? num(t.rolled_back) + " rolled back" : null),
      card("use rate", pct(usesAvailable ? t.redeemed / usesAvailable : null), "redemptions ÷ uses the codes allow"),
      // Money adds up only within a currency: one card for each.
      ...(stats.totals_by_currency || []).map((c) =>
        h("div", { class: "card", dataset: { currency: c.currency || "none" } },
          h("div", { class: "card-value" }, money(c.discount_total, c.currency)),
          h("div", { class: "card-label" }, "discount given · " + (c.currency || "no currency")),
          h("div", { class: "card-note" }, num(c.campaigns) + (c.campaigns === 1 ? " campaign" : " campaigns")))),
    );
    const tbody = part("campaigns").querySelector("tbody");
    for (const s of stats.campaigns) {
      const c = byID.get(s.campaign) || {};
      const n = s.counts;
      tbody.append(h("tr", { dataset: { campaign: s.campaign } },
        h("td", {}, h("a", { href: "#/campaign/" + encodeURIComponent(s.campaign) }, s.name || s.campaign),
          h("div", { class: "muted small" }, s.campaign + (c.benefit ? " · " + benefitText(c.benefit) : ""))),
        h("td", {}, s.kind),
        h("td", {}, h("span", { class: "status " + s.status }, s.status)),
        h("td", { class: "num" }, num(n.codes)),
        h("td", { class: "num" }, num(n.by_state.available)),
        h("td", { class: "num" }, num(n.ever_assigned)),
        h("td", { class: "num" }, num(n.redeemed)),
        h("td", { class: "num" }, rateCell(s.use_rate)),
        h("td", { class: "num" }, money(n.discount_total, s.currency)),
      ));
    }
    part("empty").hidden = stats.campaigns.length > 0;
    const rj = stats.rejected_lookups;
    part("rejected").append(card("malformed", num(rj.malformed)), card("typo", num(rj.typo)),
      card("filter", num(rj.filter)), card("store", num(rj.store)));
    view.replaceChildren(node);
  }

  function rateCell(rate) {
    if (rate === null || rate === undefined) return "—";
    const bar = h("span", { class: "rate-bar" }, h("span", {}));
    bar.firstChild.style.width = Math.min(100, rate * 100).toFixed(1) + "%";
    return h("span", { class: "rate" }, bar, pct(rate));
  }

  // ---- one campaign -------------------------------------------------------------------

  async function showCampaign(id) {
    const path = "/v1/campaigns/" + encodeURIComponent(id);
    const [c, s] = await Promise.all([api("GET", path), api("GET", path + "/stats")]);
    const { node, part } = fromTemplate("tpl-campaign");
    part("title").textContent = c.name || c.id;
    const facts = [c.id, c.kind, benefitText(c.benefit)];
    if (c.min_order) facts.push("orders from " + money(c.min_order, c.benefit.currency));
    if (c.expires_at) facts.push("until " + when(c.expires_at));
    if (c.valid_for) facts.push("valid " + c.valid_for + " once given");
    part("subtitle").append(h("span", { class: "status " + c.status }, c.status), " " + facts.join(" · "));

    const actions = part("status-actions");
    if (c.status === "active") actions.append(h("button", { type: "button", onclick: () => setStatus(id, "paused") }, "Pause"));
    if (c.status === "paused") actions.append(h("button", { type: "button", class: "primary", onclick: () => setStatus(id, "active") }, "Resume"));

    const n = s.counts;
    const cur = s.currency;
    part("counts").append(
      card("codes", num(n.codes), num(n.generated) + " generated · " + num(n.imported) + " imported"),
      card("available", num(n.by_state.available)),
      card("handed out", num(n.ever_assigned), "codes ever assigned"),
      card("assigned now", num(n.assigned_now), "given out, not used up"),
      card("redeemed", num(n.redeemed), n.rolled_back ? num(n.rolled_back) + " rolled back" : null),
      card("use rate", pct(s.use_rate), num(n.redeemed) + " of " + num(s.uses_available) + " uses the codes allow"),
      card("assigned used", pct(s.assigned_use_rate), s.assigned_use_rate === null ? "no code handed out" : num(n.assigned_used) + " of " + num(n.ever_assigned) + " handed out"),
      card("voided", num(n.voided)),
      card("discount given · " + (cur || "no currency"), money(n.discount_total, cur)),
      card("orders · " + (cur || "no currency"), money(n.order_total, cur)),
    );
    if (s.budget) {
      part("budget-panel").hidden = false;
      part("budget").append(budgetTable(s.budget, cur));
    }
    if (s.suspected_leaks && s.suspected_leaks.length) {
      part("leaks-panel").hidden = false;
      part("leaks").append(leaksTable(s.suspected_leaks));
    }
    PromoChart.daily(part("chart"), s.daily);
    part("by-channel").append(dimTable(s.by_channel, "channel", cur));
    part("by-terminal").append(dimTable(s.by_terminal, "terminal", cur));
    if (s.top_referrers && s.top_referrers.length) {
      part("referrers-panel").hidden = false;
      part("referrers").append(table(["Customer", "Code", "Redemptions"],
        s.top_referrers.map((r) => [r.customer_id, h("code", {}, r.code), num(r.redemptions)]), [false, false, true]));
    }
    const reasons = Object.entries(s.rejected || {}).sort((a, b) => b[1] - a[1]);
    part("rejected").append(reasons.length
      ? table(["Reason", "Refusals"], reasons.map(([r, k]) => [r, num(k)]), [false, true])
      : h("p", { class: "muted" }, "None."));

    // Generate.
    const gen = part("generate");
    gen.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const count = Number(gen.elements.count.value);
      const out = gen.querySelector('[data-role="generate-result"]');
      out.textContent = "Generating…";
      try {
        const r = await api("POST", path + "/generate", { count }, { headers: { "Idempotency-Key": randomKey("gen") } });
        out.textContent = `Generated ${num(r.generated)} codes (batch ${r.batch}).`;
        toast(`Generated ${num(r.generated)} codes.`);
        setTimeout(route, 600);
      } catch (e) {
        out.textContent = e.message;
        toast(e.message, true);
      }
    });

    // Exports and sheets.
    const state = part("state");
    const result = part("export-result");
    part("export-codes").addEventListener("click", () =>
      download(path + "/codes" + (state.value ? "?state=" + state.value : ""), `${id}-codes${state.value ? "-" + state.value : ""}.csv`, result));
    part("export-redemptions").addEventListener("click", () => download(path + "/redemptions", `${id}-redemptions.csv`, result));
    let cursor = "";
    const next = part("sheet-next");
    const limit = part("sheet-limit");
    const openSheet = async (from) => {
      const q = new URLSearchParams({ state: state.value || "all", limit: limit.value || "90" });
      if (from) q.set("cursor", from);
      const win = window.open("", "_blank"); // now, while the click counts as the person's
      result.textContent = "Making the sheet…";
      try {
        const res = await api("GET", "/admin/campaigns/" + encodeURIComponent(id) + "/sheet?" + q, undefined, { raw: true });
        cursor = res.headers.get("X-Next-Cursor") || "";
        next.hidden = !cursor;
        const url = URL.createObjectURL(new Blob([await res.text()], { type: "text/html" }));
        setTimeout(() => URL.revokeObjectURL(url), 10 * 60 * 1000);
        if (win) {
          win.location.href = url;
          result.textContent = "The sheet opened in a new tab: print it from there.";
        } else {
          result.replaceChildren(h("a", { href: url, target: "_blank", rel: "noopener" }, "Open the sheet"));
        }
      } catch (e) {
        if (win) win.close();
        result.textContent = e.message;
      }
    };
    part("sheet").addEventListener("click", () => openSheet(""));
    next.addEventListener("click", () => openSheet(cursor));
    view.replaceChildren(node);
  }

  // budgetTable shows each cap of a budget beside what redemptions in
  // force and live holds take of it, with a bar of the share used.
  function budgetTable(b, currency) {
    const rows = [];
    const row = (what, cap, used, held, fmt) => {
      const left = Math.max(0, cap - used - held);
      const bar = h("span", { class: "budget-bar" }, h("span", { class: "u" }), h("span", { class: "h" }));
      bar.children[0].style.width = Math.min(100, 100 * used / cap).toFixed(1) + "%";
      bar.children[1].style.width = Math.min(100 - Math.min(100, 100 * used / cap), 100 * held / cap).toFixed(1) + "%";
      rows.push(h("tr", { dataset: { budget: what } }, h("td", {}, what), h("td", { class: "num" }, fmt(used)), h("td", { class: "num" }, fmt(held)),
        h("td", { class: "num" }, fmt(cap)), h("td", { class: "num" }, fmt(left)),
        h("td", {}, bar, " " + pct(used / cap) + " used")));
    };
    if (b.redemptions > 0) row("redemptions", b.redemptions, b.redemptions_used, b.redemptions_held, num);
    if (b.discount > 0) row("discount", b.discount, b.discount_used, b.discount_held, (v) => money(v, currency));
    return h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["Of", "Used", "Held in carts", "Cap", "Left", ""].map((t, i) => h("th", { class: i >= 1 && i <= 4 ? "num" : "" }, t)))),
      h("tbody", {}, rows)));
  }

  // leaksTable lists the suspected leaks with a Void button each; voiding
  // asks first, then calls POST /v1/codes/{code}/void.
  function leaksTable(leaks) {
    return table(["Code", "Refusals", "Customers", "Flagged", ""], leaks.map((l) => [
      h("code", {}, l.code), num(l.refusals), num(l.distinct_customers), when(l.flagged_at),
      l.state === "voided"
        ? h("span", { class: "status archived" }, "voided")
        : h("button", { type: "button", class: "danger", dataset: { void: l.code }, onclick: () => voidLeak(l) }, "Void"),
    ]), [false, true, true, false, true]);
  }

  async function voidLeak(l) {
    if (!confirm(`Void the code ${l.code}? It was refused to ${l.distinct_customers} different customers. ` +
      "Nobody can use it afterwards, not even its own customer; this cannot be undone.")) return;
    try {
      await api("POST", "/v1/codes/" + encodeURIComponent(l.code) + "/void",
        { reason: `suspected leak: refused to ${l.distinct_customers} customers` });
      toast(`Code ${l.code} voided.`);
      route();
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function setStatus(id, status) {
    try {
      await api("PATCH", "/v1/campaigns/" + encodeURIComponent(id), { status });
      toast(status === "paused" ? "Campaign paused." : "Campaign active again.");
      route();
    } catch (e) {
      toast(e.message, true);
    }
  }

  function table(headers, rows, numeric) {
    return h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, headers.map((t, i) => h("th", { class: numeric && numeric[i] ? "num" : "" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v, i) => h("td", { class: numeric && numeric[i] ? "num" : "" }, v)))))));
  }

  // dimTable shows a breakdown by channel or terminal, with a bar for the
  // redemptions of each.
  function dimTable(rows, what, currency) {
    if (!rows || !rows.length) return h("p", { class: "muted" }, "Nothing by " + what + " yet.");
    const top = Math.max(1, ...rows.map((r) => Math.max(r.assigned, r.redeemed)));
    const sorted = [...rows].sort((a, b) => b.redeemed - a.redeemed || b.assigned - a.assigned);
    return table([what[0].toUpperCase() + what.slice(1), "Handed out", "Redeemed", "", "Discount"], sorted.map((r) => {
      const bar = h("span", { class: "dim-bar" }, h("span", { class: "a" }), h("span", { class: "r" }));
      bar.children[0].style.width = (100 * r.assigned / top).toFixed(1) + "%";
      bar.children[1].style.width = (100 * r.redeemed / top).toFixed(1) + "%";
      return [r.name || "—", num(r.assigned), num(r.redeemed), bar, money(r.discount, currency)];
    }), [false, true, true, false, true]);
  }

  // download fetches a CSV export with the key and saves it as a file.
  async function download(path, filename, out) {
    out.textContent = "Downloading…";
    try {
      const res = await api("GET", path, undefined, { raw: true, headers: { "Accept": "text/csv" } });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: filename });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60 * 1000);
      out.textContent = `Saved ${filename} (${num(blob.size)} bytes).`;
    } catch (e) {
      out.textContent = e.message;
    }
  }

  function randomKey(prefix) {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return prefix + "-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // ---- new campaign -------------------------------------------------------------------

  function showNew() {
    const { node, part } = fromTemplate("tpl-new");
    const form = part("create");
    const f = form.elements;
    const syncBenefit = () => {
      for (const l of form.querySelectorAll("label[data-for]")) l.hidden = l.dataset.for !== f.benefit.value;
    };
    f.benefit.addEventListener("change", syncBenefit);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = part("error") || form.querySelector('[data-role="error"]');
      err.hidden = true;
      const fail = (m) => { err.textContent = m; err.hidden = false; };
      const spec = { id: f.id.value.trim(), kind: f.kind.value };
      if (f.name.value.trim()) spec.name = f.name.value.trim();
      const currency = f.currency.value.trim().toUpperCase();
      const b = { type: f.benefit.value };
      if (b.type === "percent") b.value = Number(f.percent.value);
      if (b.type === "amount") {
        b.value = parseMoney(f.amount.value);
        if (!b.value) return fail("Amount off: type an amount such as 5.00.");
      }
      if (b.type === "custom") b.text = f.text.value.trim();
      if (currency) b.currency = currency;
      spec.benefit = b;
      const min = parseMoney(f.min_order.value);
      if (min === null) return fail("Minimum order: type an amount such as 20.00.");
      if (min) spec.min_order = min;
      if (f.expires.value) spec.expires_at = f.expires.value + "T23:59:59Z";
      if (f.valid_for.value.trim()) spec.valid_for = f.valid_for.value.trim();
      const count = Number(f.count.value) || 0;
      try {
        const c = await api("POST", "/v1/campaigns", spec);
        if (count > 0) {
          await api("POST", "/v1/campaigns/" + encodeURIComponent(c.id) + "/generate", { count },
            { headers: { "Idempotency-Key": randomKey("gen") } });
        }
        toast(`Campaign ${c.id} created` + (count > 0 ? ` with ${num(count)} codes.` : "."));
        location.hash = "#/campaign/" + encodeURIComponent(c.id);
      } catch (e) {
        fail((e.field ? e.field + ": " : "") + e.message);
      }
    });
    view.replaceChildren(node);
    syncBenefit();
    f.id.focus();
  }

  // ---- API keys -------------------------------------------------------------------

  async function showKeys(secret) {
    const { keys } = await api("GET", "/v1/keys");
    const { node, part } = fromTemplate("tpl-keys");
    if (secret) {
      part("secret-panel").hidden = false;
      const input = part("secret");
      input.value = secret;
      part("copy").addEventListener("click", async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(secret);
          toast("Copied.");
        } catch (_) {
          document.execCommand("copy"); // plain http has no clipboard API
          toast("Copied.");
        }
      });
    }
    const tbody = part("keys").querySelector("tbody");
    for (const k of keys) {
      tbody.append(h("tr", { dataset: { key: k.name } },
        h("td", {}, k.name), h("td", {}, h("span", { class: "role " + k.role }, k.role)), h("td", {}, h("code", {}, k.prefix + "…")),
        h("td", {}, when(k.created_at)), h("td", {}, when(k.last_used_at)),
        h("td", { class: "num" }, h("button", { type: "button", class: "danger", onclick: () => revoke(k.name) }, "Revoke"))));
    }
    const form = part("create-key");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", "/v1/keys", { name: form.elements.name.value.trim(), role: form.elements.role.value });
        await showKeys(r.secret);
        toast(`Key ${r.key.name} created.`);
      } catch (e) {
        toast(e.message, true);
      }
    });
    view.replaceChildren(node);
  }

  async function revoke(name) {
    if (!confirm(`Revoke the key ${name}? Anything using it stops working at once.`)) return;
    try {
      await api("DELETE", "/v1/keys/" + encodeURIComponent(name));
      toast(`Key ${name} revoked.`);
      await showKeys();
    } catch (e) {
      toast(e.message, true);
    }
  }

  route();
})();
