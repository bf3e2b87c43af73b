// PromoCode is gen's reading of what a person typed, ported to the browser
// so the till can catch a mistyped code before it asks the server. It must
// agree with gen.Normalize and gen.DefaultFormat().Match; a Go test
// (TestBrowser_CodeCheck_AgreesWithGen) runs both over generated and
// mutated codes.
"use strict";
(function (global) {
  // Crockford's base32: digits and letters without I, L, O, U.
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  // The default format: 11 random symbols and a Luhn mod 32 check symbol,
  // shown in groups of 4.
  const DEFAULT_LENGTH = 12;
  const GROUP = 4;
  // A canonical code is at most this many symbols (gen.MaxCodeLen).
  const MAX_CODE_LEN = 64;

  const INDEX = new Map();
  for (let i = 0; i < ALPHABET.length; i++) INDEX.set(ALPHABET[i], i);

  // normalize returns the canonical key of input: upper case, spaces, tabs
  // and dashes removed, O read as 0 and I, L as 1. On input that cannot be
  // a code it returns {key: "", error}.
  function normalize(input) {
    let key = "";
    for (const ch of String(input)) {
      if (ch === " " || ch === "-" || ch === "\t") continue;
      if (!/^[0-9A-Za-z]$/.test(ch)) {
        return { key: "", error: JSON.stringify(ch) + " is not a letter, digit, space or dash" };
      }
      if (key.length === MAX_CODE_LEN) {
        return { key: "", error: "longer than " + MAX_CODE_LEN + " symbols" };
      }
      let c = ch.toUpperCase();
      if (c === "O") c = "0";
      else if (c === "I" || c === "L") c = "1";
      key += c;
    }
    if (key === "") return { key: "", error: "no letters or digits" };
    return { key, error: "" };
  }

  // luhnValid tells whether body (all symbols of ALPHABET) ends in its Luhn
  // mod N check symbol: from the right, every second symbol's index is
  // doubled and its base-N digits summed.
  function luhnValid(body) {
    const n = ALPHABET.length;
    let factor = 1;
    let sum = 0;
    for (let i = body.length - 1; i >= 0; i--) {
      const a = factor * INDEX.get(body[i]);
      sum += Math.floor(a / n) + (a % n);
      factor = 3 - factor;
    }
    return sum % n === 0;
  }

  // check reads input as the till sees it. verdict is
  //   "malformed": not a code at all (gen.ErrMalformed from Normalize);
  //   "valid":     the default shape with a right check symbol;
  //   "typo":      the default shape with a wrong check symbol;
  //   "other":     another shape, which only the server can judge.
  function check(input) {
    const { key, error } = normalize(input);
    if (error) return { verdict: "malformed", key: "", display: "", error };
    let shape = key.length === DEFAULT_LENGTH;
    for (let i = 0; shape && i < key.length; i++) shape = INDEX.has(key[i]);
    if (!shape) return { verdict: "other", key, display: key, error: "" };
    return { verdict: luhnValid(key) ? "valid" : "typo", key, display: display(key), error: "" };
  }

  // display groups a default-shaped key as people see it: 7K3M-Q9XD-2RTM.
  function display(key) {
    if (key.length !== DEFAULT_LENGTH) return key;
    const parts = [];
    for (let i = 0; i < key.length; i += GROUP) parts.push(key.slice(i, i + GROUP));
    return parts.join("-");
  }

  global.PromoCode = Object.freeze({ ALPHABET, DEFAULT_LENGTH, normalize, check, display });
})(globalThis);
