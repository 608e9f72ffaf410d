#!/usr/bin/env bash
# Restarts the quickstart cluster {{ cluster_name }}. Rendered by `zato quickstart create`.
set -e
BASE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$BASE_DIR/zato-qs-stop.sh"
exec "$BASE_DIR/zato-qs-start.sh"
