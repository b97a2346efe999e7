#!/usr/bin/env bash
# Start Milvus + Elasticsearch, wait until healthy, run `pytest -m integration` with the service
# URLs in env vars, then tear everything down (volumes included). Extra args go to pytest.
#   ES_LICENSE=trial ./docker/run-integration.sh      # also exercise the server-side rrf path
#   ES_SECURITY=true ./docker/run-integration.sh      # basic auth (elastic / $ELASTIC_PASSWORD)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
COMPOSE=(docker compose -f "$HERE/docker-compose.yml")
PYTHON="${PYTHON:-python}"
TIMEOUT="${WAIT_TIMEOUT:-300}"
ES_PORT="${ES_PORT:-9200}"
MILVUS_PORT="${MILVUS_PORT:-19530}"
export ES_PORT MILVUS_PORT

cleanup() { "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

"${COMPOSE[@]}" up -d

wait_healthy() {  # service name
  local id state deadline=$((SECONDS + TIMEOUT))
  id="$("${COMPOSE[@]}" ps -q "$1")"
  while :; do
    state="$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null || echo missing)"
    [[ "$state" == healthy ]] && { echo "$1: healthy"; return 0; }
    if (( SECONDS > deadline )); then
      echo "$1: not healthy after ${TIMEOUT}s (state: $state)" >&2
      "${COMPOSE[@]}" logs --tail 50 "$1" >&2
      return 1
    fi
    sleep 3
  done
}
wait_healthy elasticsearch
wait_healthy milvus

if [[ "${ES_SECURITY:-false}" == true ]]; then
  export VECBRIDGE_TEST_ES_URL="http://127.0.0.1:${ES_PORT}"
  export VECBRIDGE_TEST_ES_USERNAME=elastic
  export VECBRIDGE_TEST_ES_PASSWORD="${ELASTIC_PASSWORD:-changeme-vecbridge}"
else
  export VECBRIDGE_TEST_ES_URL="http://127.0.0.1:${ES_PORT}"
fi
export VECBRIDGE_TEST_ES_LICENSE="${ES_LICENSE:-basic}"
export VECBRIDGE_TEST_MILVUS_URI="http://127.0.0.1:${MILVUS_PORT}"

cd "$ROOT"
"$PYTHON" -m pytest -m integration "$@"
