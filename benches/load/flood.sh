#!/usr/bin/env bash
# Memory and latency while password logins flood the server: a release
# build on loopback, SQLite, default Argon2id (m = 19 MiB, t = 2) and
# hashing concurrency (the number of cores), queue 32. Needs wrk and curl.
#
#     bash benches/load/flood.sh          # DURATION=20 seconds of flood
#     FLOOD_NICE=19 bash benches/load/flood.sh
#
# FLOOD_NICE runs the flooding wrk at that nice value: on a 2-core machine
# the load generator otherwise takes the CPU the server would give the
# other requests, which a real flood from other machines does not.
#
# Prints the server's resident memory idle, at its peak while 256
# connections hammer the password grant, at its peak while 160 logins are
# abandoned by clients that hang up after 50 ms, and after each; and the
# p50/p99 of client_credentials, refresh and JWKS requests made during the
# flood. The target: peak RSS below 64 MiB plus the Argon2 memory of the
# hashes allowed to run; other requests' p99 below 50 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20}
PORT=${PORT:-18182}
cargo build --release --bin authd -q
T=${CARGO_TARGET_DIR:-target}
case $T in /*) ;; *) T=$PWD/$T ;; esac
A=$T/release/authd
dir=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/authd.db" RUST_LOG=error
$A migrate >/dev/null
$A role add reader --scope "posts:read" >/dev/null
printf '%s\n' 'load test password' | $A user add loadtest --role reader --password-stdin >/dev/null
out=$($A client add load --grant client_credentials --grant password --grant refresh_token --scope posts:read)
id=$(echo "$out" | awk '/^client_id:/ {print $2}')
secret=$(echo "$out" | awk '/^client_secret:/ {print $2}')
$A --bind "127.0.0.1:$PORT" &
server=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
export BASIC=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
login_form="grant_type=password&username=loadtest&password=load+test+password"

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; } # KiB
# Samples RSS every 20 ms until $dir/sampling goes; writes the peak.
sample() {
  local peak=0 r
  while [ -f "$dir/sampling" ]; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.02
  done
  echo "$peak" >"$dir/peak"
}
mib() { echo "$(( ($1 + 512) / 1024 )) MiB"; }
# p50 and p99 and non-2xx from a wrk --latency report.
summary() {
  local f=$1
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' "$f")
  p50=$(awk '$1 == "50%" {print $2}' "$f")
  p99=$(awk '$1 == "99%" {print $2}' "$f")
  bad=$(awk '/Non-2xx/ {print $5}' "$f"); bad=${bad:-0}
  printf '%-20s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$2" "$rps" "$p50" "$p99" "$bad"
}

# Two sessions for the refresh chains (one per wrk thread).
tokens=""
for _ in 1 2; do
  t=$(curl -s -u "$id:$secret" "$base/oauth/token" -d "$login_form" |
    sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')
  tokens="$tokens $t"
done
export REFRESH_TOKENS=$tokens
sleep 1
idle=$(rss)

echo "== flood: 256 connections on the password grant for ${DURATION}s"
touch "$dir/sampling"; sample & sampler=$!
BODY=$login_form AUTH="Basic $BASIC" nice -n "${FLOOD_NICE:-0}" wrk -t2 -c256 -d"${DURATION}s" --latency \
  -s benches/load/scenario.lua "$base/oauth/token" >"$dir/password.txt" &
flood=$!
sleep 2
others=$((DURATION - 4))
BODY="grant_type=client_credentials" AUTH="Basic $BASIC" wrk -t1 -c2 -d"${others}s" --latency \
  -s benches/load/scenario.lua "$base/oauth/token" >"$dir/cc.txt" &
cc=$!
wrk -t2 -c2 -d"${others}s" --latency -s benches/load/refresh.lua \
  "$base/oauth/token" >"$dir/refresh.txt" &
refresh=$!
wrk -t1 -c2 -d"${others}s" --latency "$base/.well-known/jwks.json" >"$dir/jwks.txt" &
jwks=$!
wait $flood $cc $refresh $jwks
rm "$dir/sampling"; wait $sampler || true
flood_peak=$(cat "$dir/peak")
sleep 5
after_flood=$(rss)

echo "== 160 logins whose clients hang up after 50 ms"
touch "$dir/sampling"; sample & sampler=$!
seq 160 | xargs -P 160 -I{} curl -s -o /dev/null --max-time 0.05 \
  -u "$id:$secret" "$base/oauth/token" -d "$login_form" || true
# The hashes already admitted still run; let them finish.
for _ in $(seq 1 100); do
  curl -s -o /dev/null -w '%{http_code}' -u "$id:$secret" "$base/oauth/token" \
    -d "$login_form" | grep -q 200 && break
  sleep 0.2
done
rm "$dir/sampling"; wait $sampler || true
abandoned_peak=$(cat "$dir/peak")
sleep 5
after=$(rss)

cores=$(nproc)
echo
echo "resident memory (hashing concurrency $cores, Argon2 19 MiB each):"
echo "  idle                       $(mib "$idle")"
echo "  peak, 256-connection flood $(mib "$flood_peak")"
echo "  5 s after the flood        $(mib "$after_flood")"
echo "  peak, 160 abandoned logins $(mib "$abandoned_peak")"
echo "  5 s after                  $(mib "$after")"
echo "  target: below $((64 + 19 * cores)) MiB"
echo
echo "during the flood:"
summary "$dir/password.txt" "password (flood)"
summary "$dir/cc.txt" "client_credentials"
summary "$dir/refresh.txt" "refresh"
summary "$dir/jwks.txt" "jwks"
