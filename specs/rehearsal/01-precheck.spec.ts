/**
 * E2-3 §3 — preconditions: AKS provisioningState=Succeeded, namespace visible, API/consumer
 * deployments exist, no crashloop. Any of them failing: ENVIRONMENT_BLOCKED, the rehearsal stops.
 */
import { gate } from '../../helpers/gate.ts'
import { GateBlocked } from '../../helpers/classification.ts'
import { crashLooping, deploymentSummary, podSummary } from '../../helpers/kube-views.ts'
import { cutover, noteFixedInputs } from '../shared/rehearsal.ts'
import { getManagedCluster, type ManagedClusterState } from '../../helpers/arm.ts'
import { isoNow } from '../../helpers/evidence.ts'
import type { GateContext } from '../../helpers/harness.ts'

/** `az aks show -g RG -n NAME --query provisioningState -o tsv` through Azure Resource Manager: one
 * evidence step; not Succeeded → blocked; ARM unreachable / 401 / 403 / 404 → ArmError (could not check). */
async function checkAksSucceeded({ target, evidence }: GateContext): Promise<void> {
  const aks = target.aks
  const command = aks ? `az aks show -g ${aks.resourceGroup} -n ${aks.name} --query provisioningState -o tsv` : 'az aks show -g "$AKS_RESOURCE_GROUP" -n "$AKS_CLUSTER" --query provisioningState -o tsv'
  if (!aks) {
    await evidence.note('AKS provisioningState (skipped)', { command, provisioningState: 'not checked', reason: 'aks (subscriptionId, resourceGroup, name) is not set in the target profile, so Azure Resource Manager was not asked whether the cluster is Succeeded' })
    return
  }
  const startedAt = isoNow()
  const step = `AKS cluster ${aks.name} provisioningState`
  let state: ManagedClusterState
  try {
    state = await getManagedCluster(aks)
  } catch (err) {
    const e = err as { message?: string; statusCode?: number; url?: string }
    await evidence.record({ step, kind: 'http', command, target: e.url ?? aks.endpoint, startedAt, finishedAt: isoNow(), durationMs: Date.now() - Date.parse(startedAt), exitCode: 1, httpStatus: e.statusCode, result: 'fail', stderr: e.message ?? String(err), details: { provisioningState: 'unknown (Azure Resource Manager could not be asked)' } })
    throw err
  }
  const ok = state.provisioningState === 'Succeeded'
  await evidence.record({
    step,
    kind: 'http',
    command,
    target: state.url,
    startedAt,
    finishedAt: isoNow(),
    durationMs: state.durationMs,
    exitCode: ok ? 0 : 1,
    httpStatus: state.status,
    result: ok ? 'pass' : 'fail',
    stdout: `${state.provisioningState}\npowerState=${state.powerState ?? 'unknown'}`,
    details: { provisioningState: state.provisioningState, powerState: state.powerState ?? '-', kubernetesVersion: state.currentKubernetesVersion ?? state.kubernetesVersion ?? '-', resourceId: state.id, auth: state.auth },
  })
  if (!ok) {
    throw new GateBlocked(
      `AKS cluster ${aks.name} (resource group ${aks.resourceGroup}) has provisioningState ${state.provisioningState} (powerState ${state.powerState ?? 'unknown'}), not Succeeded: E2-3 §3 stops the rehearsal here — wait until the running operation finishes (${command}), or repair a Failed/Canceled cluster (az aks update -g ${aks.resourceGroup} -n ${aks.name}), then rerun the full rehearsal`,
    )
  }
}

gate(
  {
    id: 'precheck',
    suite: 'rehearsal',
    classification: 'ENVIRONMENT_BLOCKED',
    evidence: '01_precheck.log',
    title: 'the AKS cluster is Succeeded, namespace, API and consumer deployments exist and no pod is crash-looping',
    description:
      'T_cutover (UTC ISO8601) within the ±5 min buffer; az aks show -g "$AKS_RESOURCE_GROUP" -n "$AKS_CLUSTER" --query provisioningState -o tsv (Succeeded; ARM unreachable/401/403/404 → ENVIRONMENT_BLOCKED); kubectl get ns txlookup; kubectl -n txlookup get deploy tx-lookup-api txlookup-consumer; kubectl -n txlookup get pods (not in crashloop)',
  },
  async (ctx) => {
    const { target, k8s } = ctx
    // the operator guard first: a stale cut line stops the rehearsal before it touches anything
    await noteFixedInputs(ctx, cutover(ctx))
    // then the cluster itself: a cluster in an operation (Updating, Upgrading…) is no baseline to rehearse on
    await checkAksSucceeded(ctx)
    const ns = target.kube.namespace
    await k8s(`namespace ${ns}`, `kubectl get ns ${ns}`, (k) => k.readNamespace(ns), (n) => ({ name: n.metadata?.name, phase: n.status?.phase }))
    for (const d of [target.api.deployment, target.consumer.deployment]) {
      await k8s(`deployment ${d}`, `kubectl -n ${ns} get deploy ${d}`, (k) => k.readDeployment(d).catch((e: unknown) => Promise.reject((e as { code?: number })?.code === 404 ? new GateBlocked(`deployment ${d} does not exist in ${ns}`) : e)), deploymentSummary)
    }
    const pods = await k8s(`pods in ${ns}`, `kubectl -n ${ns} get pods`, (k) => k.listPods(), (ps) => ps.map(podSummary))
    const looping = pods.filter((p) => crashLooping(p).length)
    if (looping.length) throw new GateBlocked(`pods in CrashLoopBackOff: ${looping.map((p) => p.metadata?.name).join(', ')}; the rehearsal needs a healthy baseline`)
  },
)
