#!/usr/bin/env bash
# Start or stop every service the integration tests need (one script per service in
# tests/services/, each taking start|stop and listening on 127.0.0.1 only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
action=${1:?usage: test-services.sh start|stop}
shopt -s nullglob
for svc in "$root"/tests/services/*.sh; do
    if [ "$action" = stop ]; then
        bash "$svc" stop || true
    else
        bash "$svc" "$action"
    fi
done
