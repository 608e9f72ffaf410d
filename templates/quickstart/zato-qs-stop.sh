#!/usr/bin/env bash
# Stops the quickstart cluster {{ cluster_name }}. Rendered by `zato quickstart create`.
ZATO={{ zato_bin }}
BASE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STEPS={{ stop_steps }}
CLUSTER={{ cluster_name }}
rc=0

# Stops one component; one that is not running (exit 2: no pidfile) is not an error.
stop_component() {
    local out code
    if out=$("$ZATO" stop "$BASE_DIR/$1" 2>&1); then
        [ -n "$out" ] && echo "$out"
        echo "[$2/$STEPS] $1 stopped"
    else
        code=$?
        if [ "$code" -eq 2 ]; then
            echo "[$2/$STEPS] $1 was not running"
        else
            echo "$out" >&2
            echo "[$2/$STEPS] $1 could not be stopped (exit $code)" >&2
            rc=1
        fi
    fi
}

echo "Stopping Zato cluster $CLUSTER"
{% set n = namespace(i=0) %}{% if web_admin %}{% set n.i = n.i + 1 %}stop_component web-admin {{ n.i }}
{% endif %}{% if lb %}{% set n.i = n.i + 1 %}stop_component load-balancer {{ n.i }}
{% endif %}{% for server in servers %}stop_component {{ server }} {{ loop.index + n.i }}
{% endfor %}{% if scheduler %}stop_component scheduler {{ servers|length + n.i + 1 }}
{% endif %}echo "Zato cluster $CLUSTER stopped"
exit $rc
