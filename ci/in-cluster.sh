#!/usr/bin/env bash
# Run the closeout gates as a Job inside the cluster (private AKS: the API server is reachable from the
# pod, not from the CI agent) and bring back what a local run leaves: the log, the exit code, the
# summary, the evidence bundle, the Allure results and the JUnit file, under reports/.
# Used by .github/workflows/closeout.yml and ci/azure-pipelines.yml; runnable by hand with a kubeconfig.
#
# Environment (inputs):
#   IMAGE           image by digest, e.g. myacr.azurecr.io/closeout@sha256:…   (required)
#   TARGET          target profile file (required), TAGS space-separated tags (required)
#   NAMESPACE       namespace of the runner (default txlookup)
#   RUN_ID          optional: append to an earlier run on the reports volume (--run-id)
#   T_CUTOVER       optional: passed to the pod (the rehearsal's cutover time)
#   ALLOW_MUTATIONS "true" to pass --allow-mutations (needs the mutations Role, rendered with it)
#   WORKLOAD_IDENTITY_CLIENT_ID  optional: the managed identity's client id (Entra Workload ID)
#   ENV_FROM_SECRET optional: a Secret whose keys become the pod's environment
#   JOB_TIMEOUT     seconds to wait for the Job (default 3600, the Job's activeDeadlineSeconds)
#   REPORTS_DIR     where the results land (default reports/, as after a local run)
#   POLL_SECONDS    how often the Job is polled (default 5)
# Exit code: the container's (0 GO, 1 NO_GO, 2 BLOCKED, 3 usage/configuration); 3 as well when the Job
# could not be started or its result not read, with the reason on stderr.
set -uo pipefail

say() { printf 'closeout in-cluster: %s\n' "$*" >&2; }
fail() { say "$*"; exit 3; }

: "${IMAGE:?IMAGE (the image by digest) is required}" "${TARGET:?TARGET is required}" "${TAGS:?TAGS is required}"
NAMESPACE="${NAMESPACE:-txlookup}"
JOB_TIMEOUT="${JOB_TIMEOUT:-3600}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPORTS="${REPORTS_DIR:-reports}"
POLL="${POLL_SECONDS:-5}"
OUT="$REPORTS/ci"
mkdir -p "$OUT"
k() { kubectl -n "$NAMESPACE" "$@"; }

render_args=(render --target "$TARGET" --image "$IMAGE" --namespace "$NAMESPACE")
for t in $TAGS; do render_args+=(--tag "$t"); done
[ -n "${RUN_ID:-}" ] && render_args+=(--run-id "$RUN_ID")
[ -n "${T_CUTOVER:-}" ] && render_args+=(--env "T_CUTOVER=$T_CUTOVER")
[ "${ALLOW_MUTATIONS:-false}" = "true" ] && render_args+=(--allow-mutations)
[ -n "${WORKLOAD_IDENTITY_CLIENT_ID:-}" ] && render_args+=(--workload-identity "$WORKLOAD_IDENTITY_CLIENT_ID")
[ -n "${ENV_FROM_SECRET:-}" ] && render_args+=(--env-from-secret "$ENV_FROM_SECRET")
"$ROOT/closeout" job "${render_args[@]}" > "$OUT/job.yaml" || fail "job render failed (see above); nothing was applied"

JOB="$(kubectl apply -f "$OUT/job.yaml" -o name | sed -n 's#^job\.batch/##p')"
[ -n "$JOB" ] || fail "kubectl apply printed no Job; see $OUT/job.yaml"
say "started job/$JOB in namespace $NAMESPACE (image $IMAGE)"

# the pod exists once the Job controller made it; logs can be followed once it left Pending
deadline=$(( $(date +%s) + JOB_TIMEOUT ))
phase=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  phase="$(k get pods -l "job-name=$JOB" -o jsonpath='{.items[0].status.phase}' 2>/dev/null)"
  case "$phase" in Running|Succeeded|Failed) break ;; esac
  sleep "$POLL"
done
[ -n "$phase" ] && [ "$phase" != "Pending" ] || { k describe job "$JOB" >&2; fail "job/$JOB: no pod left Pending within ${JOB_TIMEOUT}s (image pull? quota? see the description above)"; }
k logs -f "job/$JOB" | tee "$OUT/job.log"

# the Job's end, then the container's exit code (the decision)
code=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  code="$(k get pods -l "job-name=$JOB" -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}' 2>/dev/null)"
  [ -n "$code" ] && break
  sleep "$POLL"
done
[ -n "$code" ] || fail "job/$JOB did not finish within ${JOB_TIMEOUT}s"
say "job/$JOB exited $code (0 GO, 1 NO_GO, 2 BLOCKED, 3 usage/configuration)"

# the bundle lives on the reports volume: a short-lived pod (same image, same hardened context) reads it
PVC="$(k get job "$JOB" -o jsonpath='{.spec.template.spec.volumes[?(@.name=="reports")].persistentVolumeClaim.claimName}')"
FETCH="${JOB}-fetch"
cat > "$OUT/fetch-pod.json" <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$FETCH","namespace":"$NAMESPACE","labels":{"app.kubernetes.io/name":"closeout"}},
 "spec":{"restartPolicy":"Never","serviceAccountName":"closeout-runner","automountServiceAccountToken":false,
  "securityContext":{"runAsNonRoot":true,"runAsUser":10001,"runAsGroup":10001,"fsGroup":10001,"seccompProfile":{"type":"RuntimeDefault"}},
  "containers":[{"name":"fetch","image":"$IMAGE","command":["sleep","600"],
   "securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}},
   "volumeMounts":[{"name":"reports","mountPath":"/app/reports","readOnly":true}]}],
  "volumes":[{"name":"reports","persistentVolumeClaim":{"claimName":"$PVC","readOnly":true}}]}}
EOF
k delete pod "$FETCH" --ignore-not-found >/dev/null 2>&1
if kubectl apply -f "$OUT/fetch-pod.json" >/dev/null && k wait --for=condition=Ready "pod/$FETCH" --timeout=300s >/dev/null; then
  k exec "$FETCH" -- tar -C /app/reports -cf - latest allure-results junit.xml 2>/dev/null | tar -C "$REPORTS" -xf - \
    || say "could not copy latest/, allure-results/, junit.xml from $PVC"
  run="$(sed -n 's/^ *"runId": *"\([^"]*\)".*/\1/p' "$REPORTS/latest/summary.json" 2>/dev/null | head -1)"
  if [ -n "$run" ]; then
    k exec "$FETCH" -- sh -c "cd /app/reports && tar -cf - runs/$run evidence/${run}_*" | tar -C "$REPORTS" -xf - \
      || say "could not copy the bundle of run $run from $PVC"
  fi
else
  say "the fetch pod did not start: the bundle stays on PVC $PVC (kubectl -n $NAMESPACE describe pod $FETCH)"
fi
k delete pod "$FETCH" --ignore-not-found --wait=false >/dev/null 2>&1
exit "$code"
