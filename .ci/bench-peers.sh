#!/usr/bin/env bash
# make bench-peers: PostgreSQL, Redis and promo on the same workloads, in one
# run on this machine, then a table of promo's figures beside theirs as
# ratios. The peers come from the shared harness (PEERS_DIR, default
# ../shared/peers), which installs and runs them privately on loopback.
#
#   bash .ci/bench-peers.sh              # about 10 minutes
#   PEERS_RUNS=1 bash .ci/bench-peers.sh # a quick pass
#
# Everything it writes goes to bench-out/ (git-ignored): the RESULT lines of
# each run, the servers' logs and profiles, and table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PEERS_DIR:-}" ]; then
  for d in ../shared/peers ../../shared/peers /work/shared/peers; do
    [ -f "$d/run.sh" ] && { PEERS_DIR=$d; break; }
  done
fi
if [ ! -f "${PEERS_DIR:-}/run.sh" ]; then
  echo "bench-peers: no peers harness found (looked in ../shared/peers); run with PEERS_DIR=/path/to/peers" >&2
  exit 2
fi
PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
export PEERS_RUNS=${PEERS_RUNS:-3}
BIN=${BIN:-bin/promo}
OUT=bench-out
mkdir -p "$OUT"
: >"$OUT/results.tsv"
say() { printf '# %s\n' "$*" >&2; }

# 1. The peers at 16 clients (and the disk's fsync ceiling), as RESULTS.md.
say "peers, 16 clients"
bash "$PEERS_DIR/run.sh" physical postgresql redis | tee "$OUT/peers-16.txt" | grep '^RESULT' >>"$OUT/results.tsv" || true

# 2. promo at 16 clients, the same run.
say "promo, 16 clients"
"$BIN" bench --runs "$PEERS_RUNS" --dir "$OUT/promo-16" | tee "$OUT/promo-16.txt" >>"$OUT/results.tsv"

# 3. W3 at 64 clients: PostgreSQL (its harness gives each client a slice of
#    50,000 ids, so 64 clients need 3.2M codes) and promo.
say "W3 at 64 clients"
PEERS_CLIENTS=64 PEERS_W3_K=2500 PEERS_N=3300000 bash "$PEERS_DIR/run.sh" postgresql |
  tee "$OUT/peers-64.txt" | awk -F'\t' '$1 == "RESULT" && $3 == "W3" { $3 = "W3@64"; print }' OFS='\t' >>"$OUT/results.tsv" || true
"$BIN" bench --runs "$PEERS_RUNS" --workloads W3 --clients 64 --k 2500 --dir "$OUT/promo-64" |
  awk -F'\t' '$1 == "RESULT" { $3 = "W3@64"; print }' OFS='\t' | tee -a "$OUT/results.tsv"

# 4. Disk: PostgreSQL's table plus indexes at 1M codes, beside promo's bytes
#    per code (in promo's W1 note).
say "PostgreSQL bytes per code at 1M codes"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -x "$PGBIN/initdb" ] && [ -x /tmp/peers-bin/gencodes ]; then
  base=$(mktemp -d /tmp/promo-pgsize.XXXX)
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [ "$(id -u)" = 0 ] && chown postgres: "$base"
  as_pg "$PGBIN/initdb" -D "$base/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$base/data" -l "$base/log" -w -o "-c port=55499 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$base" start >/dev/null
  psql_() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p 55499 -U postgres -v ON_ERROR_STOP=1 "$@"; }
  psql_ -d postgres -c "CREATE DATABASE size" >/dev/null
  psql_ -d size -f "$PEERS_DIR/pg/schema.sql" >/dev/null
  /tmp/peers-bin/gencodes -n 1000000 -format tsv 2>/dev/null | psql_ -d size -c "COPY codes (id, code) FROM STDIN"
  psql_ -d size -c "VACUUM ANALYZE codes" >/dev/null
  bytes=$(psql_ -d size -At -c "SELECT pg_total_relation_size('codes')")
  as_pg "$PGBIN/pg_ctl" -D "$base/data" -w stop >/dev/null
  rm -rf "$base"
  printf 'RESULT\tpostgresql\tdisk\t%s\tbytes/code\ttable + primary key + unique index on code after COPY of 1M codes and VACUUM: %s bytes\n' \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1000000 }')" "$bytes" | tee -a "$OUT/results.tsv"
else
  say "no PostgreSQL or gencodes: skipping the disk comparison"
fi

# 5. The table.
awk -F'\t' '
  function num(v) { gsub(",", "", v); return v + 0 }
  $1 == "RESULT" { v[$2 "|" $3] = $4; u[$3] = $5; w[$3] = 1 }
  END {
    print "| workload | unit | promo | PostgreSQL | Redis | promo / PostgreSQL | promo / Redis |"
    print "|---|---|---:|---:|---:|---:|---:|"
    n = split("W1 W1-cli W2 W2-floor W3 W3-idem W3@64 W3-race disk", order, " ")
    for (i = 1; i <= n; i++) {
      k = order[i]; if (!(k in w)) continue
      peer = k; if (k == "W1-cli") peer = "W1"; if (k == "W2-floor") peer = "W2"; if (k == "W3-idem") peer = "W3"
      p = v["appliance|" k]; g = v["postgresql|" peer]; r = v["redis|" peer]
      rg = (num(g) > 0 && num(p) > 0) ? sprintf("%.2f×", num(p) / num(g)) : "–"
      rr = (num(r) > 0 && num(p) > 0) ? sprintf("%.2f×", num(p) / num(r)) : "–"
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", k, u[k], p, (g == "" ? "–" : g), (r == "" ? "–" : r), rg, rr
    }
    for (key in v) if (split(key, parts, "|") == 2 && parts[1] == "disk" && parts[2] ~ /^fdatasync/)
      printf "| ceiling: %s | %s | %s | | | | |\n", parts[2], u[parts[2]], v[key]
  }' "$OUT/results.tsv" | tee "$OUT/table.md"
