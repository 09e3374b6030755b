#!/usr/bin/env bash
# The F3-4 runtime closeout plan's checks done the runbook way, for `./closeout bench` to compare with:
# one kubectl (or curl) process per check, no evidence written, no registry and no monitoring query
# (the plan runs those through `az`; the harness does them too, so this baseline is the cheaper side).
# Against the local environment (./closeout env up): the bench passes KUBECONFIG, API_URL (the API pod's
# port, standing in for the plan's in-cluster http://tx-lookup-api.txlookup.svc.cluster.local:8000)
# and EVENTHUBS_HOST / EVENTHUBS_PORT. Exit 0 when every check passed; the first failing check exits
# non-zero with its name on stderr. Commands follow ../shared/seeds/f3-4-runtime-closeout-plan.md.
set -euo pipefail
: "${KUBECONFIG:?KUBECONFIG: the kubeconfig of the local environment, reports/local-env/kubeconfig}"
: "${API_URL:?API_URL: the API, e.g. http://127.0.0.1:46100}"
: "${EVENTHUBS_HOST:?}" "${EVENTHUBS_PORT:?}"
export KUBECONFIG
NS=${NAMESPACE:-txlookup}
fail() { echo "baseline: $1" >&2; exit 1; }
k() { kubectl --request-timeout=10s -n "$NS" "$@"; }

# Task 1 step 1: namespace and workload snapshot
kubectl --request-timeout=10s get ns "$NS" -o wide >/dev/null || fail "namespace $NS"
k get deploy,svc -o wide >/dev/null || fail "deployments and services"
{ kubectl --request-timeout=10s get pods -A -o wide | grep -Ei "txlookup|tx-lookup|consumer" >/dev/null; } || true

# Task 2 step 1-2: consumer source (live deployment), image tag pinned to the API's, rollout complete
k get deploy txlookup-consumer -o yaml >/dev/null || fail "consumer deployment source"
API_IMAGE=$(k get deploy tx-lookup-api -o jsonpath='{.spec.template.spec.containers[0].image}')
CONSUMER_IMAGE=$(k get deploy txlookup-consumer -o jsonpath='{.spec.template.spec.containers[0].image}')
[ "${CONSUMER_IMAGE##*:}" = "${API_IMAGE##*:}" ] || fail "consumer image tag ${CONSUMER_IMAGE##*:} != API tag ${API_IMAGE##*:}"
k rollout status deploy/txlookup-consumer --timeout=180s >/dev/null || fail "consumer rollout"

# Task 2 step 3: consumer logs (the plan saves them twice, once per evidence file) and the two probes
k logs deploy/txlookup-consumer --tail=400 >/dev/null || fail "consumer logs (03)"
k logs deploy/txlookup-consumer --tail=400 >/dev/null || fail "consumer logs (04)"
k exec deploy/txlookup-consumer -c consumer -- txlookup-probe db | grep db_connectivity_ok >/dev/null || fail "consumer DB probe"
k exec deploy/txlookup-consumer -c consumer -- txlookup-probe tcp "$EVENTHUBS_HOST" "$EVENTHUBS_PORT" | grep eventhubs_tcp_ok >/dev/null || fail "consumer Event Hubs probe"

# Task 3: 404 smoke, known tx id from the database, 200 smoke
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$API_URL/admin/tx/missing-tx-id")
[ "$code" = 404 ] || fail "smoke 404 answered $code"
KNOWN_TX_ID=$(k exec deploy/txlookup-postgres -c postgres -- psql -U bo -d bo -At -c "select tx_id from bo.ledger_entries order by event_time desc limit 1;")
[ -n "$KNOWN_TX_ID" ] || fail "no known tx id in bo.ledger_entries"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$API_URL/admin/tx/$KNOWN_TX_ID")
[ "$code" = 200 ] || fail "smoke 200 for $KNOWN_TX_ID answered $code"
