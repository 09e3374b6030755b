/**
 * E2-3 §3 — preconditions: namespace visible, API/consumer deployments exist, no crashloop.
 */
import { gate } from '../../helpers/gate.ts'
import { GateBlocked } from '../../helpers/classification.ts'
import { crashLooping, deploymentSummary, podSummary } from '../../helpers/kube-views.ts'
import { cutover, noteFixedInputs } from '../shared/rehearsal.ts'

gate(
  {
    id: 'precheck',
    suite: 'rehearsal',
    classification: 'ENVIRONMENT_BLOCKED',
    evidence: '01_precheck.log',
    title: 'namespace, API and consumer deployments exist and no pod is crash-looping',
    description:
      'T_cutover (UTC ISO8601) within the ±5 min buffer; kubectl get ns txlookup; kubectl -n txlookup get deploy tx-lookup-api txlookup-consumer; kubectl -n txlookup get pods (not in crashloop)',
  },
  async (ctx) => {
    const { target, k8s } = ctx
    // the operator guard first: a stale cut line stops the rehearsal before it touches anything
    await noteFixedInputs(ctx, cutover(ctx))
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
