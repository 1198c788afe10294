#!/usr/bin/env bash
# Runs every test of the connector: the test of the broker script, vet, the generated-files check, the unit
# and integration tests under the race detector, and each fuzz target for a few seconds. Starts (and
# installs, as root) a RabbitMQ on 127.0.0.1 when none answers, and stops what it started. Without root and
# without a broker it runs everything else and says which tests it skipped. RABBITMQ_CLUSTER_TEST=1 also
# tests the broker script's three-node cluster, and lets the cluster suite of lib/loadtest (TestCluster*:
# a node lost mid-stream) start that cluster on 127.0.0.1:5701-5703 and stop it after: about three
# minutes more. Without it the cluster suite runs only if the cluster already runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

started=0
cleanup() { if [ "$started" = 1 ]; then scripts/rabbitmq.sh stop >/dev/null || true; fi; }
trap cleanup EXIT

tags=integration
if state=$(scripts/rabbitmq.sh start); then
  [ "$state" = started ] && started=1
  echo "== RabbitMQ on 127.0.0.1:5672: $state"
else
  tags=
  echo "== SKIPPED: the integration tests (tag 'integration': the worker against RabbitMQ)."
  echo "   No broker answers on 127.0.0.1:5672 and one could not be started (installing needs root)."
fi
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}

echo "== scripts/rabbitmq_test.sh${RABBITMQ_CLUSTER_TEST:+ (RABBITMQ_CLUSTER_TEST=$RABBITMQ_CLUSTER_TEST: with the cluster)}"
scripts/rabbitmq_test.sh

echo "== go mod tidy -diff"
go mod tidy -diff

echo "== go vet"
go vet ${tags:+-tags $tags} ./...

echo "== staticcheck (bugs and unused code)"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ${tags:+-tags $tags} -checks 'SA*,U1000' ./...

echo "== connector generate --check --strict"
go run ./cmd/connector generate --check --strict

with_cluster=
if [ "${RABBITMQ_CLUSTER_TEST:-}" = 1 ]; then
  with_cluster=" (with the cluster suite)"
elif [ -n "$tags" ]; then
  echo "== NOTE: the cluster suite (lib/loadtest TestCluster*) runs only if scripts/rabbitmq.sh cluster runs;"
  echo "   RABBITMQ_CLUSTER_TEST=1 lets it start the cluster."
fi
echo "== go test -race ${tags:+-tags $tags}$with_cluster"
go test -race -count=1 -timeout 30m ${tags:+-tags $tags} ./...

echo "== fuzz targets, a few seconds each (FUZZTIME=10m scripts/fuzz.sh for a long run)"
scripts/fuzz.sh

echo "== all checks passed"
