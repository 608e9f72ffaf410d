#!/usr/bin/env bash
# Builds the release binaries and runs a two-server quickstart cluster (SQLite ODB) in DIR
# (default ./qs), on ports 17010 and 17011, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p zato-server -p zato-cli
BIN="$PWD/target/release"
DIR="$(realpath -m "${1:-qs}")"
if [ ! -f "$DIR/zato.db" ]; then
  mkdir -p "$DIR"
  KEY=$("$BIN/zato" crypto create-secret-key)
  PASSWORD="admin.invoke.$(cat /proc/sys/kernel/random/uuid | tr -d -)"
  ODB=(--odb-type sqlite --odb-db-name "$DIR/zato.db")
  "$BIN/zato" create odb "${ODB[@]}"
  "$BIN/zato" create cluster quickstart "${ODB[@]}" --secret-key="$KEY" --admin-invoke-password="$PASSWORD"
  for n in 1 2; do
    "$BIN/zato" create server "$DIR/server$n" quickstart "server$n" "${ODB[@]}" --secret-key="$KEY" \
      --http-host 127.0.0.1 --http-port $((17009 + n))
  done
  umask 077
  echo "$PASSWORD" > "$DIR/admin-invoke-password"
fi
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT INT TERM
for n in 1 2; do
  "$BIN/zato-server" "$DIR/server$n" &
  pids+=($!)
done
for port in 17010 17011; do
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/zato/ping" >/dev/null && break
    sleep 0.05
  done
  curl -sf "http://127.0.0.1:$port/zato/ping" >/dev/null || { echo "server on $port did not start; see $DIR/server*/logs/server.log" >&2; exit 1; }
done
cat <<MSG
Quickstart cluster running in $DIR (server1 :17010, server2 :17011). Try:
  curl http://127.0.0.1:17010/zato/ping
  curl -u admin.invoke:\$(cat $DIR/admin-invoke-password) http://127.0.0.1:17010/zato/admin/invoke \\
       -d '{"name": "demo.my-service", "payload": "'\$(echo -n '{"name":"you"}' | base64)'"}'
Drop .py service files into $DIR/server1/pickup/incoming/services to hot-deploy them to both servers.
Ctrl-C stops the cluster.
MSG
wait "${pids[@]}"
