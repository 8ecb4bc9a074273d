#!/usr/bin/env bash
# The load benchmark: first the machine's raw limits, then each scenario
# against a release build on loopback, on SQLite and (with PG_URL) on
# PostgreSQL, each on a fresh database. Needs wrk and curl (installed with
# apt-get when missing).
#
#     bash benches/load/run.sh
#     PG_URL=postgres://postgres@127.0.0.1:5432/postgres bash benches/load/run.sh
#
# Settings: DURATION (seconds per scenario, 10), CONNS (64), SCENARIOS
# (default: all of password login_form refresh refresh_under_logins client_credentials
# client_credentials_cached introspection introspection_cached jwks posts
# userinfo refresh_openid code_exchange),
# WORKERS_SWEEP (worker counts for the CPU per request sweep of
# client_credentials and refresh; default "2 8 16", empty to skip),
# BACKENDS ("sqlite postgres"; postgres runs only with PG_URL),
# REFRESH_RATE (fresh refresh tokens
# pre-issued per second of each refresh run, 10000), AUTHD (a server binary
# to run instead of the one built here, for A/B runs of two builds),
# INSTANCES (1; with 2, two servers on one database, each loaded by a wrk
# of its own with half the connections: the row sums their 2xx/s and
# CPU, and its latencies are the worse of the two).
#
# For each scenario it prints requests/s (2xx only), p50, p99, non-2xx
# responses, the server's peak RSS during the scenario, its CPU time per
# request, on PostgreSQL the CPU time of PostgreSQL's processes per
# request, and the ratio of the rate to the limit that bounds it.
#
# Refresh tokens: every request presents a token never used before. They
# are issued beforehand through the password grant by the same binary
# started with cheap Argon2 settings (AUTHD_ARGON2_MEMORY_KIB=8,
# AUTHD_ARGON2_ITERATIONS=1) so that issuing them takes seconds; the
# scenarios then run on a server with the default settings.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
# The password grant sheds beyond its queue (32) with 503s, which a
# client loop like wrk answers at once with another request: measure its
# throughput within the queue instead (flood.sh measures the flood).
PASSWORD_CONNS=${PASSWORD_CONNS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
POSTS_PORT=$((PORT + 1))
SCENARIOS=${SCENARIOS:-"password login_form refresh refresh_under_logins client_credentials client_credentials_cached introspection introspection_cached jwks posts userinfo refresh_openid code_exchange"}
WORKERS_SWEEP=${WORKERS_SWEEP-"2 8 16"}
BACKENDS=${BACKENDS:-"sqlite postgres"}
REFRESH_RATE=${REFRESH_RATE:-10000}
INSTANCES=${INSTANCES:-1}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }

cargo build --release -q --bin authd --example posts_api
T=${CARGO_TARGET_DIR:-target}
case $T in /*) ;; *) T=$PWD/$T ;; esac
A=${AUTHD:-$T/release/authd}
POSTS=$T/release/examples/posts_api
dir=$(mktemp -d)
server= servers= posts= flood=
cleanup() {
  for p in $server $servers $posts $flood; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export RUST_LOG=error
cores=$(nproc)
base="http://127.0.0.1:$PORT"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "== raw limits"
LIMITS_DIR="$dir" cargo bench -q --bench limits | tee "$dir/limits"
limit() { awk -v n="$1" '$1 == "limit" && $2 == n {print $3}' "$dir/limits"; }

# The port of instance $1 (1-based): the first on $PORT.
instance_port() { echo $((PORT + 10 * ($1 - 1))); }
start_server() { # extra environment assignments as arguments
  local i p pid
  servers=
  for i in $(seq 1 "$INSTANCES"); do
    p=$(instance_port "$i")
    env "$@" "$A" --bind "127.0.0.1:$p" &
    pid=$!
    servers="$servers $pid"
    [ "$i" = 1 ] && server=$pid
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && continue 2; sleep 0.1; done
    echo "the server did not start" >&2
    exit 1
  done
}
stop_server() {
  local p
  for p in ${servers:-$server}; do kill "$p" 2>/dev/null || true; done
  for p in ${servers:-$server}; do wait "$p" 2>/dev/null || true; done
  server= servers=
}
# CPU ticks of the measured process: every instance while authd is
# measured, else the one in $server (the posts example).
cpu_ticks() {
  local pids=$server t=0 p
  case " $servers " in *" $server "*) pids=$servers ;; esac
  for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
# CPU ticks of every PostgreSQL process (its backends serve the pool and
# live through a row), 0 when none runs.
pg_ticks() {
  local t=0 p
  for p in $(pgrep -x postgres 2>/dev/null); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

# Runs wrk with scenario.lua (environment as arguments before --),
# printing one table row. Row: name, 2xx/s, p50, p99, non-2xx, peak RSS,
# CPU µs per request, ratio to LIMIT (a number, or empty).
row() {
  local name=$1 lim=$2 conns=$3 url=$4
  shift 4
  echo 5 >"/proc/$server/clear_refs" 2>/dev/null || true # resets VmHWM
  local before pg_before batches_before
  before=$(cpu_ticks)
  pg_before=$(pg_ticks)
  batches_before=$(batches)
  if [ "$INSTANCES" = 1 ] || [[ $url != *"127.0.0.1:$PORT"* ]]; then
    env "$@" wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" -s benches/load/scenario.lua "$url" >"$dir/wrk.out" 2>&1 || true
  else
    # One wrk per instance, each with its share of the connections (and
    # of TOKENS: one wrk thread each).
    local i loads=()
    for i in $(seq 1 "$INSTANCES"); do
      env "$@" THREADS="$INSTANCES" OFFSET=$((i - 1)) wrk -t1 -c$((conns / INSTANCES)) -d"${DURATION}s" -s benches/load/scenario.lua \
        "${url/127.0.0.1:$PORT/127.0.0.1:$(instance_port "$i")}" >"$dir/wrk.out.$i" 2>&1 &
      loads+=($!)
    done
    wait "${loads[@]}" || true
    cat "$dir"/wrk.out.* | awk '$1 == "result" {r += $2; s = $3 > s ? $3 : s; b += $4; e += $5;
      p50 = $6 > p50 ? $6 : p50; p99 = $7 > p99 ? $7 : p99}
      END {printf "result %d %f %d %d %f %f\n", r, s, b, e, p50, p99}' >"$dir/wrk.out"
    rm -f "$dir"/wrk.out.*
  fi
  local ticks=$(($(cpu_ticks) - before))
  local pg=$(($(pg_ticks) - pg_before))
  [ "$DB_LABEL" = postgres ] || pg=-1
  local batches_after
  batches_after=$(batches)
  local hwm
  hwm=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$server/status")
  read -r _ requests secs bad errors p50 p99 < <(grep '^result' "$dir/wrk.out" || echo "result 0 1 0 0 0 0")
  awk -v n="$name" -v r="$requests" -v s="$secs" -v b="$bad" -v e="$errors" -v p50="$p50" -v p99="$p99" \
    -v hwm="$hwm" -v t="$ticks" -v pg="$pg" -v hz="$(getconf CLK_TCK)" -v lim="$lim" 'BEGIN {
      ok = (r - b) / s
      cpu = r > 0 ? t / hz * 1e6 / r : 0
      dbcpu = pg < 0 ? "-" : sprintf("%.0f", r > 0 ? pg / hz * 1e6 / r : 0)
      ratio = lim > 0 ? sprintf("%.0f%%", 100 * ok / lim) : "-"
      printf "| %-22s | %9.0f | %7.2f | %8.2f | %7d | %6d | %7.0f | %7s | %s |\n", n, ok, p50, p99, b + e, hwm, cpu, dbcpu, ratio
    }' | tee -a "$dir/table"
  # How the writes of the row were batched (the SQLite writer's
  # transactions, PostgreSQL's rotation statements).
  echo "$batches_before $batches_after" | awk '{n = $3 - $1; w = $4 - $2;
    if (n > 0) printf "(%d writes in %d batches: %.1f a batch)\n", w, n, w / n}'
}
# The writer's batch count and write count from /metrics.
batches() {
  curl -s "$base/metrics" | awk '$1 == "authd_db_writer_batch_size_count" {n = $2}
    $1 == "authd_db_writer_batch_size_sum" {w = $2} END {printf "%d %d", n, w}'
}
header() {
  echo "| scenario ($1) | 2xx/s | p50 ms | p99 ms | non-2xx | RSS MiB | CPU µs/req | PG CPU µs/req | of limit |" | tee -a "$dir/table"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" | tee -a "$dir/table"
}

# Pre-issues at least $2 refresh tokens into $1 (cheap Argon2), in rounds
# of a few seconds, for the client whose Basic credentials are $3 (the
# load client's by default).
issue_tokens() {
  local file=$1 want=$2 round=0 basic=${3:-$BASIC}
  start_server AUTHD_ARGON2_MEMORY_KIB=8 AUTHD_ARGON2_ITERATIONS=1 AUTHD_PASSWORD_QUEUE=1024
  : >"$file"
  while [ "$(wc -l <"$file")" -lt "$want" ]; do
    round=$((round + 1))
    rm -f "$dir/collect"*
    BODY="$login_form" AUTH="Basic $basic" COLLECT="$dir/collect" \
      wrk -t"$THREADS" -c16 -d5s -s benches/load/scenario.lua "$base/oauth/token" >/dev/null
    cat "$dir/collect"* >>"$file"
  done
  stop_server
  echo "(pre-issued $(wc -l <"$file") refresh tokens)"
}

# Pre-issues at least $2 authorization codes into $1 for the OpenID app
# (first-party: no consent page), each from one GET of the authorization
# endpoint by a browser session of the load user, all with one PKCE
# challenge.
issue_codes() {
  local file=$1 want=$2 jar=$dir/jar csrf
  start_server AUTHD_ARGON2_MEMORY_KIB=8 AUTHD_ARGON2_ITERATIONS=1
  csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf_token=$csrf" \
    -d "username=loadtest&password=load+test+password" "$base/login"
  local cookie
  cookie=$(awk '$6 ~ /session/ {print $6 "=" $7}' "$jar" | head -1)
  : >"$file"
  while [ "$(wc -l <"$file")" -lt "$want" ]; do
    rm -f "$dir/collect"*
    COLLECT="$dir/collect" wrk -t"$THREADS" -c16 -d5s -s benches/load/scenario.lua \
      -H "Cookie: $cookie" "$base/oauth/authorize?response_type=code&client_id=$CODE_CLIENT&redirect_uri=$CODE_REDIRECT&scope=openid+profile&code_challenge=$CODE_CHALLENGE&code_challenge_method=S256&state=s&nonce=n" >/dev/null
    cat "$dir/collect"* >>"$file"
    [ -s "$file" ] || { echo "no authorization codes were issued" >&2; exit 1; }
  done
  stop_server
  echo "(pre-issued $(wc -l <"$file") authorization codes)"
}

run_backend() {
  local label=$1
  DB_LABEL=$label
  export DATABASE_URL=$2
  # What bounds a refresh: SQLite's durable commits with one writer; on
  # PostgreSQL the target is absolute (see BENCHMARKS.md).
  local rl=""
  [ "$label" = sqlite ] && rl=$(limit sqlite_commit)
  "$A" migrate >/dev/null
  "$A" role add reader --scope "posts:read" >/dev/null
  printf '%s\n' 'load test password' | "$A" user add loadtest --role reader --password-stdin >/dev/null
  local out
  out=$("$A" client add load --grant client_credentials --grant password --grant refresh_token \
    --scope posts:read --audience https://posts.example)
  BASIC=$(printf '%s:%s' "$(echo "$out" | awk '/^client_id:/ {print $2}')" \
    "$(echo "$out" | awk '/^client_secret:/ {print $2}')" | base64 -w0)
  # An OpenID Connect app beside it: its tokens carry `openid profile`, so
  # its grants sign an RS256 ID token too. The load client's scopes stay
  # posts:read alone, so the other rows do not change.
  "$A" role add member --scope "openid profile" >/dev/null
  "$A" user grant-role loadtest member >/dev/null
  out=$("$A" client add load-oidc --grant password --grant refresh_token \
    --scope "posts:read openid profile" --audience https://posts.example)
  BASIC_OIDC=$(printf '%s:%s' "$(echo "$out" | awk '/^client_id:/ {print $2}')" \
    "$(echo "$out" | awk '/^client_secret:/ {print $2}')" | base64 -w0)
  login_form="grant_type=password&username=loadtest&password=load+test+password"
  # A first-party web app with the code flow, for the code exchange: each
  # exchange also signs an RS256 ID token.
  CODE_REDIRECT=http://127.0.0.1:9/callback
  out=$("$A" client add load-web --grant authorization_code --scope "posts:read openid profile" \
    --redirect-uri "$CODE_REDIRECT" --first-party --audience https://posts.example)
  CODE_CLIENT=$(echo "$out" | awk '/^client_id:/ {print $2}')
  BASIC_CODE=$(printf '%s:%s' "$CODE_CLIENT" "$(echo "$out" | awk '/^client_secret:/ {print $2}')" | base64 -w0)
  # RFC 7636 Appendix B's verifier and challenge.
  CODE_VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
  CODE_CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
  local cc="grant_type=client_credentials"
  # Enough fresh tokens for every refresh run at REFRESH_RATE/s (a run
  # that uses up its share shows non-2xx answers: raise it then).
  local runs=0
  for s in $SCENARIOS; do case $s in refresh | refresh_under_logins) runs=$((runs + 1)) ;; esac; done
  for _ in $WORKERS_SWEEP; do runs=$((runs + 1)); done
  if [[ " $SCENARIOS " == *" code_exchange "* ]]; then
    issue_codes "$dir/codes" $((DURATION * REFRESH_RATE / 2))
  fi
  if [[ " $SCENARIOS " == *" refresh_openid "* ]]; then
    issue_tokens "$dir/oidc_tokens" $((DURATION * REFRESH_RATE)) "$BASIC_OIDC"
  fi
  if [ "$runs" -gt 0 ]; then
    issue_tokens "$dir/tokens" $((DURATION * runs * REFRESH_RATE))
    # Hundreds of thousands of new rows leave PostgreSQL autovacuum work
    # that would land in the next row (the password row): do it now.
    [ "$label" = postgres ] && psql "$DATABASE_URL" -qc "VACUUM (ANALYZE) refresh_tokens" >/dev/null
    split -n "l/$runs" -d "$dir/tokens" "$dir/tokens."
  fi
  pool=0
  # Sets $tokens to the next unused share (not in a subshell: the count
  # must advance).
  next_pool() {
    tokens=$(printf '%s/tokens.%02d' "$dir" "$pool")
    pool=$((pool + 1))
  }

  echo
  echo "== $label"
  start_server
  header "$label"
  for s in $SCENARIOS; do
    case $s in
    password)
      # The Argon2 rate drifts with the machine's clock speed over a run
      # (by up to 15 % here): measured again right before, with the server
      # idle, it is the limit of this row; the first is printed beside it.
      local argon2_now
      argon2_now=$(LIMITS_DIR="$dir" cargo bench -q --bench limits -- argon2 | awk '$1 == "limit" {print $3}')
      echo "(Argon2id limit: $argon2_now/s just before this row, $(limit argon2_verify)/s at the start)"
      row password "$argon2_now" "$PASSWORD_CONNS" "$base/oauth/token" BODY="$login_form" AUTH="Basic $BASIC"
      ;;
    login_form)
      # The browser's sign-in: POST /login with the form's CSRF token and
      # its pre-login cookie, one Argon2 verification and a new session
      # each (303 to the next page). Bounded by Argon2 like the password
      # grant; the second-factor code adds no hash to it.
      local jar=$dir/form_jar csrf cookie argon2_now
      csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
      cookie=$(awk 'NF == 7 {printf "%s%s=%s", sep, $6, $7; sep = "; "}' "$jar")
      argon2_now=$(LIMITS_DIR="$dir" cargo bench -q --bench limits -- argon2 | awk '$1 == "limit" {print $3}')
      echo "(Argon2id limit: $argon2_now/s just before this row)"
      row "login form" "$argon2_now" "$PASSWORD_CONNS" "$base/login" \
        BODY="csrf_token=$csrf&username=loadtest&password=load+test+password" COOKIE="$cookie"
      ;;
    refresh)
      next_pool
      row refresh "$rl" "$CONNS" "$base/oauth/token" TOKENS="$tokens" THREADS="$THREADS" AUTH="Basic $BASIC"
      ;;
    refresh_under_logins)
      # 4x the hashing capacity of password requests waiting meanwhile.
      BODY="$login_form" AUTH="Basic $BASIC" wrk -t1 -c$((cores * 5)) -d"$((DURATION + 2))s" \
        -s benches/load/scenario.lua "$base/oauth/token" >/dev/null 2>&1 &
      flood=$!
      sleep 1
      next_pool
      row "refresh, logins waiting" "$rl" "$CONNS" "$base/oauth/token" TOKENS="$tokens" THREADS="$THREADS" AUTH="Basic $BASIC"
      wait "$flood" 2>/dev/null || true
      flood=
      ;;
    client_credentials)
      row client_credentials "$(limit es256_sign)" "$CONNS" "$base/oauth/token" BODY="$cc" AUTH="Basic $BASIC"
      ;;
    client_credentials_cached)
      # The same with the client cache on (AUTHD_CLIENT_CACHE_TTL, off by
      # default): no database trip at all.
      stop_server
      start_server AUTHD_CLIENT_CACHE_TTL=60
      row "client_credentials, cache" "$(limit es256_sign)" "$CONNS" "$base/oauth/token" BODY="$cc" AUTH="Basic $BASIC"
      stop_server
      start_server
      ;;
    introspection)
      local at
      at=$(curl -s -u "$(echo "$BASIC" | base64 -d)" -d "$cc" "$base/oauth/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
      row introspection "" "$CONNS" "$base/oauth/introspect" BODY="token=$at" AUTH="Basic $BASIC"
      ;;
    introspection_cached)
      # The asking client from the client cache: one query less.
      stop_server
      start_server AUTHD_CLIENT_CACHE_TTL=60
      local at
      at=$(curl -s -u "$(echo "$BASIC" | base64 -d)" -d "$cc" "$base/oauth/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
      row "introspection, cache" "" "$CONNS" "$base/oauth/introspect" BODY="token=$at" AUTH="Basic $BASIC"
      stop_server
      start_server
      ;;
    jwks)
      row jwks "" "$CONNS" "$base/.well-known/jwks.json"
      ;;
    userinfo)
      # An access token with `openid` from the OpenID client's password
      # grant (one hash), then UserInfo with it.
      local ut
      ut=$(curl -s -u "$(echo "$BASIC_OIDC" | base64 -d)" -d "$login_form&scope=openid+profile" "$base/oauth/token" |
        sed 's/.*"access_token":"\([^"]*\)".*/\1/')
      row userinfo "" "$CONNS" "$base/oauth/userinfo" AUTH="Bearer $ut"
      ;;
    refresh_openid)
      # Each refresh also signs an RS256 ID token.
      row "refresh, openid" "$(limit rs256_sign)" "$CONNS" "$base/oauth/token" TOKENS="$dir/oidc_tokens" THREADS="$THREADS" AUTH="Basic $BASIC_OIDC"
      ;;
    code_exchange)
      # Each exchange also signs an RS256 ID token.
      row "code exchange, openid" "$(limit rs256_sign)" "$CONNS" "$base/oauth/token" TOKENS="$dir/codes" THREADS="$THREADS" \
        AUTH="Basic $BASIC_CODE" TOKEN_BODY="grant_type=authorization_code&redirect_uri=$CODE_REDIRECT&code_verifier=$CODE_VERIFIER&code="
      ;;
    posts)
      "$POSTS" --issuer "$base" --audience https://posts.example --bind "127.0.0.1:$POSTS_PORT" &
      posts=$!
      for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$POSTS_PORT/posts" && break; sleep 0.1; done
      local pt
      pt=$(curl -s -u "$(echo "$BASIC" | base64 -d)" -d "$cc" "$base/oauth/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
      # The example's own CPU and memory, not the authorization server's.
      local authd_pid=$server
      server=$posts
      row "posts (verify)" "" "$CONNS" "http://127.0.0.1:$POSTS_PORT/posts" AUTH="Bearer $pt"
      server=$authd_pid
      kill "$posts" 2>/dev/null || true
      posts=
      ;;
    *)
      echo "unknown scenario '$s'" >&2
      exit 2
      ;;
    esac
  done
  stop_server
  for w in $WORKERS_SWEEP; do
    start_server AUTHD_WORKERS="$w"
    row "client_credentials, $w workers" "$(limit es256_sign)" "$CONNS" "$base/oauth/token" BODY="$cc" AUTH="Basic $BASIC"
    next_pool
    row "refresh, $w workers" "$rl" "$CONNS" "$base/oauth/token" TOKENS="$tokens" THREADS="$THREADS" AUTH="Basic $BASIC"
    stop_server
  done
}

case " $BACKENDS " in *" sqlite "*) run_backend sqlite "sqlite://$dir/authd.db" ;; esac
if [ -n "${PG_URL:-}" ] && [[ " $BACKENDS " == *" postgres "* ]]; then
  name="authd_bench_$$"
  admin=$PG_URL
  psql "$admin" -qc "CREATE DATABASE $name" >/dev/null
  trap 'cleanup; psql "$admin" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  # Keep the URL's query (e.g. ?sslmode=disable) on the new database's URL.
  pg_base=${PG_URL%%\?*}
  run_backend postgres "${pg_base%/*}/$name${PG_URL#"$pg_base"}"
fi
echo
echo "== summary (limits: $(awk '$1 == "limit" {printf "%s=%s ", $2, $3}' "$dir/limits"))"
cat "$dir/table"
