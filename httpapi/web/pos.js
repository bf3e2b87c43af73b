// The till page: check a code as it is typed, validate it for the order,
// and redeem it with one button. A redemption carries an Idempotency-Key
// made when the button is pressed; it is kept (with the exact request
// body) in localStorage until the server answers, and every retry — after
// a network failure, a timeout, a server error or a reload of the page —
// sends the same key and body, so the server replays its first answer and
// the code is never redeemed twice.
//
// When a customer is named, checking the code also holds it for that
// customer for HOLD (POST /v1/validate with "hold"): nobody else can take
// its use meanwhile. The redemption uses the hold (hold_id); a new
// customer, another code, or "Next customer" releases it
// (POST /v1/holds/{id}/release), so a cart left at the till frees the code.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "promo.pos.key";
  const TERMINAL = "promo.pos.terminal";
  const CURRENCY = "promo.pos.currency";
  const PENDING = "promo.pos.pending";
  const RECENT = "promo.pos.recent";
  // A request with no answer after this long is treated as lost.
  const TIMEOUT_MS = 10000;
  // Waits before each retry of a lost redemption; then the cashier decides.
  const RETRY_DELAYS_MS = [1000, 2000, 3000, 5000];
  // The server keeps an idempotency key for 48 hours; a pending redemption
  // older than this is not retried (the server may have forgotten the key).
  const PENDING_MAX_AGE_MS = 24 * 3600 * 1000;
  // How long a checked code is held for its customer.
  const HOLD = "15m";

  const el = {
    settings: $("settings"), till: $("till"), code: $("code"), hint: $("code-hint"),
    amount: $("amount"), customer: $("customer"), form: $("code-form"),
    result: $("result"), title: $("result-title"), detail: $("result-detail"), actions: $("result-actions"),
    redeem: $("redeem"), recent: $("recent-list"), terminal: $("terminal-label"),
    pending: $("pending"), pendingText: $("pending-text"),
  };

  const cfg = {
    get key() { return localStorage.getItem(KEY) || ""; },
    get terminal() { return localStorage.getItem(TERMINAL) || ""; },
    get currency() { return localStorage.getItem(CURRENCY) || ""; },
  };

  // ---- settings -----------------------------------------------------------

  function openSettings() {
    $("set-key").value = cfg.key;
    $("set-terminal").value = cfg.terminal;
    $("set-currency").value = cfg.currency;
    $("cancel-settings").hidden = !cfg.key || !cfg.terminal;
    el.settings.hidden = false;
    el.till.hidden = true;
    (cfg.key ? $("set-terminal") : $("set-key")).focus();
  }

  function closeSettings() {
    el.settings.hidden = true;
    el.till.hidden = false;
    el.terminal.textContent = cfg.terminal;
    el.code.focus();
  }

  el.settings.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("set-key").value.trim();
    const terminal = $("set-terminal").value.trim();
    const currency = $("set-currency").value.trim().toUpperCase();
    if (!key || !terminal) return;
    if (currency && !/^[A-Z]{3}$/.test(currency)) {
      $("set-currency").setCustomValidity("three letters, such as EUR");
      $("set-currency").reportValidity();
      return;
    }
    $("set-currency").setCustomValidity("");
    localStorage.setItem(KEY, key);
    localStorage.setItem(TERMINAL, terminal);
    localStorage.setItem(CURRENCY, currency);
    closeSettings();
  });
  $("cancel-settings").addEventListener("click", closeSettings);
  $("open-settings").addEventListener("click", openSettings);

  // ---- money --------------------------------------------------------------

  // parseAmount reads "25", "25.5", "25.50" or "25,50" as minor units;
  // null when it is not an amount, 0 when empty.
  function parseAmount(text) {
    const t = text.trim().replace(",", ".");
    if (t === "") return 0;
    const m = /^(\d{1,12})(?:\.(\d{0,2}))?$/.exec(t);
    if (!m) return null;
    return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
  }

  function money(n, currency) {
    const s = (n < 0 ? "-" : "") + Math.floor(Math.abs(n) / 100) + "." + String(Math.abs(n) % 100).padStart(2, "0");
    return currency ? s + " " + currency : s;
  }

  function benefitText(b, currency) {
    if (!b) return "";
    switch (b.type) {
      case "percent": return b.value + "% off";
      case "amount": return money(b.value, b.currency || currency) + " off";
      case "free_shipping": return "Free shipping";
      default: return b.text || b.type;
    }
  }

  // ---- the result panel ---------------------------------------------------

  // Every answer the cashier must tell apart at arm's length: a word or
  // two, a colour and a sign.
  const REFUSALS = {
    already_redeemed: "ALREADY USED",
    expired: "EXPIRED",
    not_started: "NOT VALID YET",
    wrong_customer: "WRONG CUSTOMER",
    customer_limit: "CUSTOMER ALREADY USED ONE",
    held: "HELD IN ANOTHER CART",
    budget_exhausted: "CAMPAIGN BUDGET USED UP",
    not_found: "NOT FOUND",
    typo: "TYPO — CHECK THE CODE",
    min_order: "ORDER TOO SMALL",
    paused: "CAMPAIGN PAUSED",
    voided: "VOIDED",
    rate_limited: "TOO MANY WRONG CODES",
    invalid_request: "CHECK THE ORDER",
    malformed: "NOT A CODE",
    unauthorized: "TILL KEY REJECTED",
    forbidden: "TILL KEY NOT ALLOWED",
    idempotency_mismatch: "RETRY MISMATCH",
  };
  // Amber: look again or wait; red: this code cannot be used.
  const WARNINGS = new Set(["typo", "rate_limited", "unauthorized", "forbidden", "malformed"]);

  // show fills the result panel. kind is idle, checking, valid, redeemed,
  // refused, warn or lost; reason names a refusal (data-reason) for tests
  // and styles.
  function show(kind, title, detail, reason, actions) {
    el.result.className = "result " + kind;
    el.result.dataset.reason = reason || "";
    el.result.dataset.hold = ""; // set again by a valid answer that placed one
    el.title.textContent = title;
    el.detail.textContent = detail || "";
    el.actions.replaceChildren(...(actions || []));
  }

  function button(label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.className = cls || "ghost";
    b.addEventListener("click", onClick);
    return b;
  }

  function showRefusal(reason, message, extra) {
    const title = REFUSALS[reason] || reason.toUpperCase().replace(/_/g, " ");
    const kind = WARNINGS.has(reason) ? "warn" : "refused";
    show(kind, (kind === "warn" ? "⚠ " : "✖ ") + title, message, reason, extra);
    setRedeem(false);
  }

  function showError(r) {
    const e = (r.data && r.data.error) || {};
    let code = e.code || "internal";
    let message = e.message || "The server answered " + r.status + ".";
    if (code === "rate_limited") {
      const wait = Number(r.retryAfter) || 60;
      message = "This till tried too many codes that do not exist. Wait " + wait + " s, then try again.";
    } else if (code === "unauthorized" || code === "forbidden") {
      message = "Open Settings and enter a till key (role pos). " + message;
    } else if (code === "unavailable" || code === "internal") {
      show("warn", "⚠ SERVER PROBLEM", message + " Try again in a moment.", code);
      setRedeem(false);
      return;
    }
    showRefusal(code, message);
  }

  let current = null; // the validation shown: {code, amount, customer, discount, currency, hold}
  let held = null;    // the hold this till placed last and has not used or released: {id, code, customer}
  let busy = false;   // a redemption is on its way

  function setRedeem(enabled, label) {
    el.redeem.disabled = !enabled || busy || hasPending();
    el.redeem.textContent = label || "REDEEM";
  }

  // ---- typing -------------------------------------------------------------

  function readOrder() {
    return {
      code: el.code.value.trim(),
      amount: parseAmount(el.amount.value),
      customer: el.customer.value.trim(),
    };
  }

  function onCodeInput() {
    clearTimeout(soon);
    current = null;
    setRedeem(false);
    const raw = el.code.value;
    if (!busy && !el.result.classList.contains("idle")) show("idle", "Ready", "Press Enter (or Check code) to check it.");
    if (raw.trim() === "") {
      el.hint.textContent = "\u00a0";
      el.hint.className = "hint";
      return;
    }
    const c = PromoCode.check(raw);
    el.hint.className = "hint " + c.verdict;
    switch (c.verdict) {
      case "malformed":
        el.hint.textContent = "Not a code: " + c.error;
        break;
      case "typo":
        el.hint.textContent = c.display + " — the check symbol does not match";
        showRefusal("typo", "A symbol of " + c.display + " is probably mistyped, or two are swapped. Look at the code again.",
          [button("It is right: ask the server", () => validate(true))]);
        break;
      case "valid":
        el.hint.textContent = c.display + " ✓ check symbol OK";
        validateSoon();
        break;
      default:
        el.hint.textContent = c.key + " — press Enter to check";
    }
  }

  let soon = 0;
  function validateSoon() {
    clearTimeout(soon);
    soon = setTimeout(() => validate(false), 250);
  }

  el.code.addEventListener("input", onCodeInput);
  el.code.addEventListener("focus", () => el.code.select());
  el.amount.addEventListener("input", () => {
    if (current || el.result.classList.contains("refused")) validateSoon();
  });
  el.customer.addEventListener("change", () => { if (el.code.value.trim()) validateSoon(); });
  el.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(soon);
    validate(false);
  });

  // ---- requests -----------------------------------------------------------

  class Lost extends Error {}

  // post sends body (a string, sent byte for byte as given) and returns
  // {status, data, retryAfter}. It throws Lost when no complete answer came:
  // the network failed, the request timed out, or the body was cut off.
  async function post(path, body, headers) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(path, {
        method: "POST", body, cache: "no-store", credentials: "omit", signal: ctrl.signal,
        headers: Object.assign({ "Content-Type": "application/json", "Authorization": "Bearer " + cfg.key }, headers || {}),
      });
      const text = await res.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
      if (data === null && res.status !== 204) throw new Lost("incomplete answer (" + res.status + ")");
      return { status: res.status, data, retryAfter: res.headers.get("Retry-After") };
    } catch (e) {
      throw e instanceof Lost ? e : new Lost(e && e.message ? e.message : String(e));
    } finally {
      clearTimeout(timer);
    }
  }

  function orderBody(o, withTerminal) {
    const b = { code: o.code, order_amount: o.amount };
    if (o.customer) b.customer_id = o.customer;
    if (cfg.currency) b.currency = cfg.currency;
    if (withTerminal) b.terminal = cfg.terminal;
    return b;
  }

  // releaseHold frees the hold this till holds, if any, unless it is for
  // the same code and customer (a new check renews that one instead). It
  // does not wait for the answer: an unreleased hold simply expires.
  function releaseHold(keepFor) {
    if (!held) return;
    if (keepFor && keepFor.code === held.code && keepFor.customer === held.customer) return;
    const id = held.id;
    held = null;
    post("/v1/holds/" + encodeURIComponent(id) + "/release", "{}").catch(() => { /* it expires by itself */ });
  }

  let validateSeq = 0;

  // validate asks POST /v1/validate about the code for this order. A code
  // of the default shape with a wrong check symbol is caught here, before
  // any request, unless force (the cashier insists: an imported code may
  // have any shape).
  async function validate(force) {
    if (busy) return;
    const o = readOrder();
    if (!o.code) { el.code.focus(); return; }
    if (!cfg.key) { openSettings(); return; }
    const c = PromoCode.check(o.code);
    if (c.verdict === "malformed") { showRefusal("malformed", c.error); return; }
    if (c.verdict === "typo" && !force) { onCodeInput(); el.code.select(); return; }
    if (o.amount === null) {
      show("warn", "⚠ AMOUNT?", "Type the order amount as 25.00.", "amount");
      el.amount.focus();
      return;
    }
    const seq = ++validateSeq;
    show("checking", "Checking…", c.display || o.code, "");
    releaseHold(o);
    const body = orderBody(o, false);
    if (o.customer) body.hold = HOLD;
    let r;
    try {
      r = await post("/v1/validate", JSON.stringify(body));
    } catch (e) {
      if (seq === validateSeq) show("warn", "⚠ NO CONNECTION", "The server did not answer. Check the network, then press Enter again.", "network");
      return;
    }
    if (seq !== validateSeq) return; // a newer check is on its way
    if (r.status !== 200) { showError(r); return; }
    const v = r.data;
    if (!v.valid) { showRefusal(v.reason, v.message); el.code.select(); return; }
    const currency = v.currency || cfg.currency;
    current = { ...o, discount: v.discount, currency, hold: v.hold ? v.hold.id : "" };
    if (v.hold) held = { id: v.hold.id, code: o.code, customer: o.customer };
    let detail = benefitText(v.benefit, currency) + " · campaign " + v.campaign;
    if (v.discount > 0) detail += " · discount " + money(v.discount, currency);
    if (o.amount > 0 && v.discount > 0) detail += " · to pay " + money(Math.max(0, o.amount - v.discount), currency);
    if (v.hold) {
      const until = new Date(v.hold.expires_at);
      detail += " · held for " + o.customer + (isNaN(until) ? "" : " until " + until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    }
    show("valid", "✔ VALID", (v.code || c.display || o.code) + " · " + detail, "valid",
      [button("Next customer", nextCustomer, "ghost")]);
    el.result.dataset.hold = v.hold ? v.hold.id : "";
    setRedeem(true, v.discount > 0 ? "REDEEM −" + money(v.discount, currency) : "REDEEM");
  }

  // ---- redeeming ------------------------------------------------------------

  function newIdempotencyKey() {
    // crypto.getRandomValues works on plain http too (randomUUID does not).
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "till-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function loadPending() {
    try { return JSON.parse(localStorage.getItem(PENDING) || "null"); } catch (_) { return null; }
  }
  function hasPending() { return loadPending() !== null; }
  function savePending(p) { localStorage.setItem(PENDING, JSON.stringify(p)); }
  function clearPending() { localStorage.removeItem(PENDING); el.pending.hidden = true; }

  el.redeem.addEventListener("click", () => {
    if (busy || hasPending()) return;
    const o = readOrder();
    if (!o.code || o.amount === null) return;
    const c = PromoCode.check(o.code);
    const body = orderBody(o, true);
    if (held && held.code === o.code && held.customer === o.customer) {
      body.hold_id = held.id; // the redemption uses (and ends) the hold
      held = null;
    }
    // The key is made here, once per press; the body is kept as sent.
    const p = {
      key: newIdempotencyKey(),
      body: JSON.stringify(body),
      code: c.display || o.code,
      amount: o.amount,
      started: Date.now(),
      attempts: 0,
    };
    savePending(p);
    send(p);
  });

  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

  // send posts the pending redemption p until the server answers: each try
  // carries the same Idempotency-Key and body. Only a complete answer ends
  // it; after the last retry the cashier gets Retry and Forget.
  async function send(p) {
    busy = true;
    setRedeem(false);
    el.pending.hidden = true;
    for (let i = 0; i <= RETRY_DELAYS_MS.length; i++) {
      if (i === 0) {
        show("checking", "Redeeming…", p.code, "");
      } else {
        show("lost", "⚠ NO ANSWER — RETRYING", "Try " + (i + 1) + " of " + (RETRY_DELAYS_MS.length + 1) +
          ". It is the same redemption: the code cannot be redeemed twice.", "retrying");
        await sleep(RETRY_DELAYS_MS[i - 1]);
      }
      p.attempts++;
      savePending(p);
      let r;
      try {
        r = await post("/v1/redeem", p.body, { "Idempotency-Key": p.key });
      } catch (e) {
        continue; // lost: try again with the same key
      }
      if (r.status >= 500) continue; // nothing was written, or it was and the key replays it
      clearPending();
      busy = false;
      finish(p, r);
      return;
    }
    busy = false;
    showLost(p);
  }

  function finish(p, r) {
    if (r.status !== 201 && r.status !== 200) {
      showError(r);
      el.code.select();
      return;
    }
    const rd = r.data;
    const currency = rd.currency || cfg.currency;
    let detail = benefitText(rd.benefit, currency);
    if (rd.discount > 0) detail += " · discount " + money(rd.discount, currency);
    if (rd.order_amount > 0 && rd.discount > 0) detail += " · to pay " + money(Math.max(0, rd.order_amount - rd.discount), currency);
    show("redeemed", "✔ REDEEMED", rd.code + " · " + detail, "redeemed",
      [button("Next customer", nextCustomer, "primary")]);
    addRecent({ id: rd.id, code: rd.code, discount: rd.discount, currency, at: rd.redeemed_at });
    clearForm();
  }

  // clearForm empties the till's fields for the next code.
  function clearForm() {
    current = null;
    el.code.value = "";
    el.amount.value = "";
    el.customer.value = "";
    el.hint.textContent = "\u00a0";
    el.hint.className = "hint";
    setRedeem(false);
    el.code.focus();
  }

  // nextCustomer clears the till for the next customer and releases a
  // hold the last one left (a customer who did not buy).
  function nextCustomer() {
    releaseHold(null);
    clearTimeout(soon);
    validateSeq++; // an answer still on its way is for the last customer
    show("idle", "Ready", "Scan or type a code.", "");
    clearForm();
  }

  // showLost offers the cashier the same redemption again (or, when it is
  // too old for the server to remember its key, only to forget it).
  function showLost(p) {
    const tooOld = Date.now() - p.started > PENDING_MAX_AGE_MS;
    el.pendingText.textContent = tooOld
      ? " The redemption of " + p.code + " is more than a day old: look the code up in the dashboard before redeeming again."
      : " " + p.code + ": the network failed before the server answered. Retry is safe: it cannot redeem twice.";
    $("pending-retry").hidden = tooOld;
    el.pending.hidden = false;
    show("lost", "⚠ NO ANSWER", "The redemption of " + p.code + " may or may not have gone through. Press Retry to find out.", "lost");
    setRedeem(false);
  }

  $("pending-retry").addEventListener("click", () => {
    const p = loadPending();
    if (p && !busy) send(p);
  });
  $("pending-forget").addEventListener("click", () => {
    clearPending();
    show("idle", "Ready", "Scan or type a code.", "");
    el.code.focus();
  });

  // ---- this till's recent redemptions ---------------------------------------

  function loadRecent() {
    try { return JSON.parse(localStorage.getItem(RECENT) || "[]"); } catch (_) { return []; }
  }

  function addRecent(entry) {
    const list = loadRecent().filter((e) => e.id !== entry.id);
    list.unshift(entry);
    localStorage.setItem(RECENT, JSON.stringify(list.slice(0, 8)));
    renderRecent();
  }

  function renderRecent() {
    el.recent.replaceChildren(...loadRecent().map((e) => {
      const li = document.createElement("li");
      li.dataset.id = e.id;
      const t = new Date(e.at);
      const time = isNaN(t) ? "" : t.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      li.textContent = time + "  " + e.code + (e.discount > 0 ? "  −" + money(e.discount, e.currency) : "");
      return li;
    }));
  }

  // ---- start ------------------------------------------------------------------

  renderRecent();
  el.terminal.textContent = cfg.terminal;
  if (!cfg.key || !cfg.terminal) openSettings();
  const pending = loadPending();
  if (pending) showLost(pending);
  if (!el.settings.hidden) return;
  el.code.focus();
})();
