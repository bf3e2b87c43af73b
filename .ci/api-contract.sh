#!/usr/bin/env bash
# The independent checks of httpapi/openapi.json, run by `make test`:
#   1. Spectral lints the document with its spectral:oas ruleset: 0 errors.
#   2. Portman turns the document into a Postman collection: for every
#      operation a request with contract tests (a 2xx status, the content
#      type, a JSON body, the JSON schema of the answer, the headers the
#      document promises), and fuzzing variations of every request (required
#      fields left out, numbers below their minimum or above their maximum,
#      strings shorter or longer than allowed, in bodies, query parameters
#      and headers), each of which must be answered 400 with the error body.
#   3. newman runs that collection against a live `promo serve` (the built
#      binary, PROMO_BIN or bin/promo, on a temporary database holding a
#      campaign, codes, a customer, keys and a webhook made here with the
#      CLI, so the requests name real ids), bounded to 90 s in all: 0 failed
#      assertions, and no answer of 500 or above to any request.
# Nothing is left behind: the database, the collection and the server live
# in a temporary directory removed at the end (kept with API_CONTRACT_KEEP=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PROMO_BIN:-$root/bin/promo}
doc=$root/httpapi/openapi.json
tools=$root/.ci/api-tools/node_modules/.bin
cfg=$root/.ci/api-contract
[ -x "$bin" ] || { echo "api-contract: no promo binary at $bin; run make build" >&2; exit 1; }
[ -x "$tools/portman" ] || { echo "api-contract: the npm tools are missing; run .ci/install-api-tools.sh" >&2; exit 1; }

unset PROMO_ETCD PROMO_DB # the fixture and the server use the temporary file only
work=$(mktemp -d)
server=""
cleanup() {
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill -TERM "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	if [ -n "${API_CONTRACT_KEEP:-}" ]; then echo "api-contract: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

SECONDS=0
echo "== spectral lint (spectral:oas) httpapi/openapi.json"
"$tools/spectral" lint --ruleset "$root/.ci/spectral.yaml" --fail-severity error "$doc"

echo "   (${SECONDS}s)"
echo "== a live promo serve on a temporary database"
db=$work/promo.db
p() { "$bin" --db "$db" "$@"; }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v[k];console.log(v)})' "$1"; }
token=$(p --json keys create contract --role admin | json secret)
p keys create revoke-me --role pos >/dev/null
p campaign create shop --name Shop --kind generic --percent 10 >/dev/null
p campaign create leaky --name "Leaky flyers" --kind generic --amount 500 --currency EUR >/dev/null
p generate shop --count 20 >/dev/null
p generate leaky --count 5 >/dev/null
mapfile -t codes < <(p export shop --state available | tail -n +2 | cut -d, -f1)
[ "${#codes[@]}" -ge 10 ] || { echo "api-contract: the fixture has ${#codes[@]} codes, want 10" >&2; exit 1; }
p assign shop --customer cust-1 >/dev/null
p assign shop --customer cust-erase >/dev/null
# The codes the requests use, none of them assigned above (assign takes
# the first available codes, so these come from the end of the list).
n=${#codes[@]}
codeA=${codes[n - 1]} voidCode=${codes[n - 2]} holdCode=${codes[n - 3]} redeemCode=${codes[n - 4]}

"$bin" --db "$db" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
server=$!
base=""
for _ in $(seq 100); do
	base=$(sed -n 's|^promo: serving \(http://[^ ]*\) .*|\1|p' "$work/serve.log")
	[ -n "$base" ] && curl -fsS "$base/healthz" >/dev/null 2>&1 && break
	kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "$base" ] || { echo "api-contract: promo serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "api-contract: serving $base"

echo "   (${SECONDS}s)"
echo "== portman: contract tests and fuzzing variations from the document"
(cd "$work" && "$tools/portman" --local "$doc" --baseUrl "$base" --portmanConfigFile "$cfg/portman-config.json" \
	--postmanConfigFile "$cfg/postman-config.json" --output "$work/collection.json" --warn false >"$work/portman.log" 2>&1) ||
	{ cat "$work/portman.log" >&2; exit 1; }

echo "   (${SECONDS}s)"
echo "== newman against $base"
set +e
timeout 120 "$tools/newman" run "$work/collection.json" --timeout 90000 --timeout-request 10000 \
	--env-var "baseUrl=$base" --env-var "bearerToken=$token" \
	--env-var "campaignId=shop" --env-var "leakyCampaignId=leaky" \
	--env-var "codeA=$codeA" --env-var "voidCode=$voidCode" --env-var "holdCode=$holdCode" --env-var "redeemCode=$redeemCode" \
	--env-var "customerId=cust-1" --env-var "eraseCustomerId=cust-erase" --env-var "revokeKeyName=revoke-me" \
	--reporters cli,json --reporter-json-export "$work/newman.json" --reporter-cli-no-success-assertions \
	--reporter-cli-no-banner >"$work/newman.log" 2>&1
rc=$?
set -e
# The figures, and every 5xx answer, from newman's JSON report.
node - "$work/newman.json" "$work/collection.json" <<'EOF' || rc=1
const fs = require("fs");
const run = JSON.parse(fs.readFileSync(process.argv[2])).run;
const coll = JSON.parse(fs.readFileSync(process.argv[3]));
let ops = 0, variations = 0;
const walk = (items, inVariations) => items.forEach(it => it.item ? walk(it.item, inVariations || /variation/i.test(it.name)) :
	(inVariations ? variations++ : ops++));
walk(coll.item, false);
const s = run.stats;
const fivexx = run.executions.filter(x => x.response && x.response.code >= 500);
console.log(`api-contract: ${ops} operations, ${variations} fuzzing variations; newman sent ${s.requests.total} requests ` +
	`(${s.requests.failed} failed), ${s.assertions.total} assertions (${s.assertions.failed} failed), ${fivexx.length} answers of 5xx`);
for (const f of run.failures) console.log(`  FAILED ${f.source ? f.source.name : "?"}: ${f.error.test || ""} ${f.error.message}`);
for (const x of fivexx) console.log(`  5xx ${x.item.name}: ${x.response.code}`);
process.exit(s.assertions.failed + s.requests.failed + fivexx.length + run.failures.length > 0 ? 1 : 0);
EOF
if [ "$rc" -ne 0 ]; then
	tail -60 "$work/newman.log"
	echo "api-contract: FAILED (the server log follows)" >&2
	tail -20 "$work/serve.log" >&2
	exit 1
fi
kill -TERM "$server"
wait "$server" || { echo "api-contract: promo serve did not stop cleanly" >&2; exit 1; }
server=""
echo "api-contract: ok (${SECONDS}s)"
