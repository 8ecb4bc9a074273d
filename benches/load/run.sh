#!/usr/bin/env bash
# Load test of a release build on loopback, SQLite, fresh database:
# client_credentials (JWT signing + client lookup), the password grant
# (Argon2id-bound by design) and /healthz. Needs wrk (apt-get install wrk).
#
#     bash benches/load/run.sh            # 10 s per scenario, 32 connections
#
# AUTHD=path runs that binary instead of building one (e.g. to compare two
# builds); SCENARIOS picks scenarios (default: all three).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
PORT=${PORT:-18181}
SCENARIOS=${SCENARIOS:-"client_credentials password healthz"}
A=${AUTHD:-}
if [ -z "$A" ]; then
  cargo build --release --bin authd -q
  A=${CARGO_TARGET_DIR:-target}/release/authd
fi
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/authd.db" RUST_LOG=warn
$A migrate >/dev/null
$A role add reader --scope "posts:read" >/dev/null
printf '%s\n' 'load test password' | $A user add loadtest --role reader --password-stdin >/dev/null
out=$($A client add load --grant client_credentials --grant password --scope posts:read)
id=$(echo "$out" | awk '/^client_id:/ {print $2}')
secret=$(echo "$out" | awk '/^client_secret:/ {print $2}')
$A --bind "127.0.0.1:$PORT" &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
export BASIC=$(printf '%s:%s' "$id" "$secret" | base64 -w0)

# The server's CPU time so far (user + system, in clock ticks): per request,
# it is steadier than throughput when other work shares the cores.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }

for scenario in $SCENARIOS; do
  before=$(cpu_ticks)
  case $scenario in
  client_credentials)
    echo "== client_credentials"
    FORM="grant_type=client_credentials" wrk -t2 -c"$CONNS" -d"$DURATION" --latency \
      -s benches/load/token.lua "http://127.0.0.1:$PORT/oauth/token"
    ;;
  password)
    echo "== password (Argon2id m=19 MiB, t=2)"
    FORM="grant_type=password&username=loadtest&password=load+test+password" wrk -t2 \
      -c"$CONNS" -d"$DURATION" --latency -s benches/load/token.lua \
      "http://127.0.0.1:$PORT/oauth/token"
    ;;
  healthz)
    echo "== healthz"
    wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz"
    ;;
  *)
    echo "unknown scenario '$scenario' (client_credentials, password, healthz)" >&2
    exit 2
    ;;
  esac
  echo "server CPU: $(( ($(cpu_ticks) - before) * 1000 / $(getconf CLK_TCK) )) ms"
done
