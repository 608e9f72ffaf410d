#!/usr/bin/env bash
# Builds the release binaries, creates a two-server quickstart cluster (SQLite ODB) with its load
# balancer in DIR (default ./qs) with `zato quickstart create` unless it exists, starts it
# (servers on 17010 and 17011, the load balancer on 11223, the scheduler on 31530, the web admin
# on 127.0.0.1:8183) and keeps it running until Ctrl-C, which stops it with DIR/zato-qs-stop.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -p zato-server -p zato-cli -p zato-lb -p zato-scheduler -p zato-web-admin
ZATO="$PWD/target/release/zato"
DIR="$(realpath -m "${1:-qs}")"
if [ ! -x "$DIR/zato-qs-start.sh" ]; then
  "$ZATO" quickstart create "$DIR" --cluster-name quickstart
fi
trap '"$DIR/zato-qs-stop.sh" || true' EXIT
trap 'exit 0' INT TERM
"$DIR/zato-qs-start.sh"
cat <<MSG

Quickstart cluster running in $DIR (load balancer :11223 -> server1 :17010, server2 :17011).
Web admin: http://127.0.0.1:8183 (user admin; its password was printed when the cluster was
created; set another with: $ZATO update password $DIR/web-admin admin). Try:
  curl http://127.0.0.1:11223/zato/ping
  $ZATO lb servers $DIR/load-balancer
  $ZATO service invoke $DIR/server1 demo.my-service --payload '{"name":"you"}'
  $ZATO info $DIR/server2
Drop .py service files into $DIR/server1/pickup/incoming/services to hot-deploy them to both servers.
Ctrl-C stops the cluster.
MSG
# Wait while the servers run; Ctrl-C (or one of them dying) ends the wait and stops the cluster.
while kill -0 "$(cat "$DIR/server1/pidfile" 2>/dev/null || echo 0)" 2>/dev/null; do
  sleep 1 &
  wait $! || true
done
echo "server1 is no longer running; see $DIR/server1/logs/server.log" >&2
