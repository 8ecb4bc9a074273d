#!/bin/bash
# PostgreSQL's own cost of the refresh rotation, without authd or HTTP in
# the way: pgbench runs the statement authd sends (the claim's UPDATE as a
# CTE feeding the successor's INSERT) against 400,000 stored tokens, each
# claimed once, on a fresh database migrated by the authd binary given.
#
#   bash benches/load/pg_rotation.sh [AUTHD_BINARY]
#
# Settings: PG (host and user for psql/pgbench, "-h 127.0.0.1 -U postgres"),
# CLIENTS (16), DURATION (10). Prints tps and how many of the claims were
# HOT updates (in place, no index entry written).
set -euo pipefail
B=${1:-target/release/authd}
PG=${PG:-"-h 127.0.0.1 -U postgres"}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
DB=authd_rotation_$$
work=$(mktemp -d)
trap 'psql -q $PG -c "DROP DATABASE IF EXISTS $DB" postgres; rm -rf "$work"' EXIT
psql -q $PG -c "CREATE DATABASE $DB" postgres
"$B" --database-url "postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable" migrate >/dev/null
psql -q $PG "$DB" <<'SQL'
INSERT INTO users (id, username, password_hash, created_at, updated_at, tokens_valid_after)
  VALUES ('u1', 'alice', 'x', 0, 0, 0);
INSERT INTO clients (client_id, name, grants, scopes, redirect_uris, created_at, updated_at)
  VALUES ('c1', 'n', 'refresh_token', '', '', 0, 0);
CREATE SEQUENCE next_token;
INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scope, issued_at,
    expires_at, generation, family_expires_at)
  SELECT 'h' || i, 'f' || i, 'u1', 'c1', 'a b', 0, 4000000000, 0, 4000000000
  FROM generate_series(1, 400000) i;
SQL
# The same SQL as refresh_tokens::rotate on PostgreSQL; a sequence hands
# each transaction a token never claimed before.
cat >"$work/rotate.sql" <<'SQL'
\set now 1000
WITH h AS (SELECT 'h' || nextval('next_token') AS old), claimed AS (UPDATE refresh_tokens SET used_at = :now FROM h WHERE token_hash = h.old AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :now AND family_expires_at > :now AND NOT EXISTS (SELECT 1 FROM refresh_tokens AS family WHERE family.family_id = refresh_tokens.family_id AND family.revoked_at IS NOT NULL) AND EXISTS (SELECT 1 FROM users WHERE users.id = refresh_tokens.user_id AND NOT users.disabled AND users.credential_generation = refresh_tokens.generation) RETURNING token_hash, family_id) INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, user_id, client_id, scope, issued_at, expires_at, used_at, revoked_at, generation, family_expires_at) SELECT 'n' || claimed.token_hash, family_id, token_hash, 'u1', 'c1', 'a b', :now, 4000000000, NULL, NULL, 0, 4000000000 FROM claimed;
SQL
echo "fill factor: $(psql -tA $PG "$DB" -c "SELECT COALESCE(array_to_string(reloptions, ','), 'default') FROM pg_class WHERE relname = 'refresh_tokens'")"
# CPU of PostgreSQL's backends: the postmaster's reaped children's time.
postmaster=$(pgrep -o -x postgres || pgrep -o postgres)
children_cpu() { awk '{print $16 + $17}' "/proc/$postmaster/stat"; }
before=$(children_cpu)
"$PGBIN/pgbench" $PG -n -M prepared -c "${CLIENTS:-16}" -j 2 -T "${DURATION:-10}" -f "$work/rotate.sql" "$DB" |
  grep -E "^(tps|latency average|number of transactions actually)" | tee "$work/out"
sleep 1
tx=$(grep -o 'processed: [0-9]*' "$work/out" | grep -o '[0-9]*')
echo "PostgreSQL backend CPU per rotation: $(( ($(children_cpu) - before) * 1000000 / $(getconf CLK_TCK) / tx )) µs"
psql -tA $PG "$DB" -c "SELECT pg_sleep(1); SELECT n_tup_hot_upd || ' of ' || n_tup_upd || ' claims were HOT updates' FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'" | tail -1
