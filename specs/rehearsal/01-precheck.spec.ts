/**
 * E2-3 §3 — preconditions: AKS provisioningState=Succeeded, namespace visible, API/consumer
 * deployments exist, no crashloop. Any of them failing: ENVIRONMENT_BLOCKED, the rehearsal stops.
 */
import { deploymentSummary, GateBlocked, type GateContext, gate, podSummary, unhealthyContainers } from '../../helpers/index.ts'
import { cutover, noteFixedInputs } from '../shared/rehearsal.ts'

/** `az aks show -g RG -n NAME --query provisioningState -o tsv` through Azure Resource Manager (the arm
 * tool records it; no aks: section → recorded as not checked); not Succeeded → blocked. */
async function checkAksSucceeded({ arm, target }: GateContext): Promise<void> {
  const state = await arm.managedCluster()
  if (!state || !target.aks || state.provisioningState === 'Succeeded') return
  const { resourceGroup, name } = target.aks
  throw new GateBlocked(
    `AKS cluster ${name} (resource group ${resourceGroup}) has provisioningState ${state.provisioningState} (powerState ${state.powerState ?? 'unknown'}), not Succeeded: E2-3 §3 stops the rehearsal here — wait until the running operation finishes (az aks show -g ${resourceGroup} -n ${name} --query provisioningState -o tsv), or repair a Failed/Canceled cluster (az aks update -g ${resourceGroup} -n ${name}), then rerun the full rehearsal`,
  )
}

gate(
  {
    id: 'precheck',
    suite: 'rehearsal',
    classification: 'ENVIRONMENT_BLOCKED',
    evidence: '01_precheck.log',
    title: 'the AKS cluster is Succeeded, namespace, API and consumer deployments exist and no pod is crash-looping',
    description:
      'T_cutover (UTC ISO8601) within the ±5 min buffer; az aks show -g "$AKS_RESOURCE_GROUP" -n "$AKS_CLUSTER" --query provisioningState -o tsv (Succeeded; ARM unreachable/401/403/404 → ENVIRONMENT_BLOCKED); kubectl get ns txlookup; kubectl -n txlookup get deploy tx-lookup-api txlookup-consumer; kubectl -n txlookup get pods (not in crashloop: CrashLoopBackOff, Error, ImagePullBackOff/ErrImagePull, restarts over kube.maxRestarts)',
  },
  async (ctx) => {
    const { target, kube } = ctx
    // the operator guard first: a stale cut line stops the rehearsal before it touches anything
    await noteFixedInputs(ctx, cutover(ctx))
    // then the cluster itself: a cluster in an operation (Updating, Upgrading…) is no baseline to rehearse on
    await checkAksSucceeded(ctx)
    const ns = target.kube.namespace
    await kube.readNamespace({ summarize: (n) => ({ name: n.metadata?.name, phase: n.status?.phase }) })
    for (const d of [target.api.deployment, target.consumer.deployment]) {
      const dep = await kube.findDeployment(d, { summarize: (x) => (x ? deploymentSummary(x) : { present: false }) })
      if (!dep) throw new GateBlocked(`deployment ${d} does not exist in ${ns}`)
    }
    // "not in crashloop": CrashLoopBackOff, Error, ImagePullBackOff / ErrImagePull, or more restarts than kube.maxRestarts
    const maxRestarts = target.kube.maxRestarts
    const pods = await kube.listPods({ summarize: (ps) => ps.map(podSummary) })
    const unhealthy = pods
      .map((p) => ({ name: p.metadata?.name, why: unhealthyContainers(p, { maxRestarts }) }))
      .filter((x) => x.why.length)
    if (unhealthy.length)
      throw new GateBlocked(
        `unhealthy pods in ${ns}: ${unhealthy.map((x) => `${x.name} (${x.why.join(', ')})`).join('; ')}; the rehearsal needs a healthy baseline: fix or restart them (kubectl -n ${ns} describe pod NAME), then rerun the full rehearsal`,
      )
  },
)
