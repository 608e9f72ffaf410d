#!/usr/bin/env bash
# Starts the quickstart cluster {{ cluster_name }}. Rendered by `zato quickstart create`.
set -e
export ZATO_CLI_DONT_SHOW_OUTPUT=1
ZATO={{ zato_bin }}
BASE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STEPS={{ start_steps }}
CLUSTER={{ cluster_name }}

echo "Starting Zato cluster $CLUSTER"
echo "Checking configuration"
{% for server in servers %}"$ZATO" check-config "$BASE_DIR/{{ server }}" > /dev/null
{% endfor %}{% if lb %}"$ZATO" check-config "$BASE_DIR/load-balancer" > /dev/null
{% endif %}{% if scheduler %}"$ZATO" check-config "$BASE_DIR/scheduler" > /dev/null
{% endif %}{% if web_admin %}"$ZATO" check-config "$BASE_DIR/web-admin" > /dev/null
{% endif %}{% set step = namespace(n=0) %}{% if kvdb %}{% set step.n = step.n + 1 %}echo "[{{ step.n }}/$STEPS] Redis connection OK"
{% endif %}{% set step.n = step.n + 1 %}echo "[{{ step.n }}/$STEPS] SQL ODB connection OK"
{% set step.n = step.n + 1 %}echo "[{{ step.n }}/$STEPS] TCP ports checked"
{% for server in servers %}{% set step.n = step.n + 1 %}"$ZATO" start "$BASE_DIR/{{ server }}" > /dev/null
echo "[{{ step.n }}/$STEPS] {{ server }} started"
{% endfor %}{% if lb %}{% set step.n = step.n + 1 %}"$ZATO" start "$BASE_DIR/load-balancer" > /dev/null
echo "[{{ step.n }}/$STEPS] Load-balancer started"
{% endif %}{% if scheduler %}{% set step.n = step.n + 1 %}"$ZATO" start "$BASE_DIR/scheduler" > /dev/null
echo "[{{ step.n }}/$STEPS] Scheduler started"
{% endif %}{% if web_admin %}{% set step.n = step.n + 1 %}"$ZATO" start "$BASE_DIR/web-admin" > /dev/null
echo "[{{ step.n }}/$STEPS] Web admin started"
{% endif %}echo "Zato cluster $CLUSTER started"
