#!/usr/bin/env bash
# upload-peak.sh BIN LINES [bad|good]: the peak resident set (VmHWM, from
# /proc) of a fresh `promo serve` while it answers one upload of LINES lines:
# an import, then (on another fresh server) a bulk assignment. With "bad"
# (the default) every line has one bad byte; with "good" the lines are
# distinct codes, and customers. Also prints the most anonymous memory
# (heap, not the mapped database file) sampled every 50 ms. Linux only.
#   bash .ci/upload-peak.sh bin/promo 2000000
set -eu
BIN=$(realpath "$1"); N=${2:-2000000}; MODE=${3:-bad}
PORT=${PORT:-18477}
D=$(mktemp -d /tmp/upload-peak-XXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf $D' EXIT
if [ "$MODE" = good ]; then
  awk -v n=$N 'BEGIN { print "code"; for (i = 0; i < n; i++) printf "SHOP-%07d\n", i }' > $D/import.csv
  awk -v n=$N 'BEGIN { print "customer_id,email"; for (i = 0; i < n; i++) printf "c%07d,c%07d@example.com\n", i, i }' > $D/assign.csv
else
  awk -v n=$N 'BEGIN { print "code"; for (i = 0; i < n; i++) printf "BAD_%07d\n", i }' > $D/import.csv
  awk -v n=$N 'BEGIN { print "customer_id,email"; for (i = 0; i < n; i++) printf "c%07d\x01,c%07d@example.com\n", i, i }' > $D/assign.csv
fi
for kind in import assign; do
  rm -f $D/p.db*
  $BIN --db $D/p.db campaign create c --kind generic --percent 10 >/dev/null
  KEY=$($BIN --db $D/p.db --json keys create adm --role admin | sed 's/.*"secret":"\([^"]*\)".*/\1/')
  $BIN --db $D/p.db serve --addr 127.0.0.1:$PORT >$D/log 2>&1 & PID=$!
  until grep -q serving $D/log; do sleep 0.1; done
  start=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$PID/status)
  touch $D/busy
  ( m=0; while [ -e $D/busy ]; do a=$(awk '/RssAnon/ {print $2}' /proc/$PID/status); [ "$a" -gt "$m" ] && m=$a; sleep 0.05; done; echo $m > $D/anon ) & SPID=$!
  s=$(date +%s.%N)
  code=$(curl -s -o $D/out -w "%{http_code}" -H "Authorization: Bearer $KEY" -H 'Content-Type: text/csv' \
    --data-binary @$D/$kind.csv http://127.0.0.1:$PORT/v1/campaigns/c/$kind)
  e=$(date +%s.%N)
  peak=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$PID/status)
  rm $D/busy; wait $SPID
  printf "%s %s of %d MB, %d lines: %s, answer %d bytes, peak RSS %d MB (%d MB at start; anonymous at most %d MB), database %d MB, %.1f s\n" \
    "$MODE" $kind $(( $(stat -c %s $D/$kind.csv) >> 20 )) $N $code $(stat -c %s $D/out) $peak $start \
    $(( $(cat $D/anon) / 1024 )) $(( $(stat -c %s $D/p.db) >> 20 )) $(echo "$e - $s" | bc)
  kill $PID; while kill -0 $PID 2>/dev/null; do sleep 0.1; done; PID=
done
