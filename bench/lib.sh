# Shared by bench/*.sh (sourced).

# The commit measured, marked when the tree (bench/ aside) has uncommitted changes.
git_rev() {
  local rev
  rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [ -z "$(git status --porcelain -- . ':!bench' 2>/dev/null)" ] || rev="$rev + uncommitted changes"
  echo "$rev"
}

# Installs what benchmarks need, builds the release binaries of the packages given
# (`-p NAME ...`) and sets BIN (where they are) and GIT_REV (the commit measured).
bench_build() {
  bash scripts/install-deps.sh --bench
  cargo build --release "$@"
  BIN="$ROOT/target/release"
  GIT_REV="$(git_rev)"
}

# A fresh SQLite ODB, cluster and server under $TMP, with $BIN's binaries and $PY (bench.py).
# Sets PORT (the server's) and PW (admin.invoke's). SERVER_ARGS (an array, may be unset) adds
# options to `zato create server`.
#   new_server CLUSTER_NAME
new_server() {
  [ -n "${SERVER_ARGS+x}" ] || SERVER_ARGS=()
  PORT=$("${PY[@]}" port)
  PW="admin.invoke.$(tr -d - < /proc/sys/kernel/random/uuid)"
  local key odb
  key=$("$BIN/zato" crypto create-secret-key)
  odb=(--odb-type sqlite --odb-db-name "$TMP/zato.db")
  {
    "$BIN/zato" create odb "${odb[@]}"
    "$BIN/zato" create cluster "$1" "${odb[@]}" --secret-key="$key" --admin-invoke-password="$PW"
    "$BIN/zato" create server "$TMP/server1" "$1" server1 "${odb[@]}" --secret-key="$key" \
      --http-host 127.0.0.1 --http-port "$PORT" "${SERVER_ARGS[@]}"
  } > "$TMP/create.log" 2>&1 || { cat "$TMP/create.log" >&2; exit 1; }
}

# The last lines of the server's log, after a failed run.
show_server_log() {
  if [ -f "$TMP/server1/logs/server.log" ]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 40 "$TMP/server1/logs/server.log" >&2
  fi
}
