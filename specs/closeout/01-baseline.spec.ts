/**
 * F3-4 Task 1 step 1 — snapshot AKS namespace and workloads.
 */
import { gate } from '../../helpers/gate.ts'
import { GateBlocked } from '../../helpers/classification.ts'
import { podSummary, deploymentSummary } from '../../helpers/kube-views.ts'
import { KubeAccessError } from '../../helpers/kube.ts'

gate(
  {
    id: 'baseline',
    suite: 'closeout',
    classification: 'ENVIRONMENT_BLOCKED',
    evidence: '01_aks_namespace_state.log',
    title: 'the namespace, the API deployment and service are visible; workloads are snapshotted',
    description:
      'kubectl get ns txlookup -o wide; kubectl get deploy,svc -n txlookup -o wide; kubectl get pods -A -o wide | grep -Ei "txlookup|tx-lookup|consumer"',
  },
  async ({ target, k8s, evidence }) => {
    const ns = target.kube.namespace
    await k8s(`namespace ${ns}`, `kubectl get ns ${ns} -o wide`, (k) => k.readNamespace(ns), (n) => ({ name: n.metadata?.name, phase: n.status?.phase }))
    const api = await k8s(`API deployment ${target.api.deployment}`, `kubectl -n ${ns} get deploy ${target.api.deployment} -o wide`, (k) => k.readDeployment(target.api.deployment), deploymentSummary)
    await k8s(`API service ${target.api.service}`, `kubectl -n ${ns} get svc ${target.api.service} -o wide`, (k) => k.readService(target.api.service), (s) => ({ name: s.metadata?.name, ports: s.spec?.ports, selector: s.spec?.selector }))
    const consumer = await k8s(
      `consumer deployment ${target.consumer.deployment}`,
      `kubectl -n ${ns} get deploy ${target.consumer.deployment} -o wide`,
      (k) => k.readDeployment(target.consumer.deployment).catch((e: unknown) => ((e as { code?: number })?.code === 404 ? null : Promise.reject(e))),
      (d) => (d ? deploymentSummary(d) : { present: false, note: 'consumer-rollout resolves its source from the repository manifests' }),
    )
    const pods = await k8s(`pods in ${ns}`, `kubectl -n ${ns} get pods -o wide`, (k) => k.listPods(), (ps) => ps.map(podSummary))
    // the plan's `get pods -A | grep … || true`: related pods elsewhere (a consumer deployed to another
    // namespace, say); the least-privilege Role reads one namespace, so "forbidden" is noted, not a failure
    const related = new RegExp(target.kube.relatedPodsPattern, 'i')
    await k8s(
      'related pods in every namespace',
      `kubectl get pods -A -o wide | grep -Ei "${target.kube.relatedPodsPattern}" || true`,
      (k) => k.listPodsAllNamespaces().catch((e: unknown) => (e instanceof KubeAccessError && e.kind === 'forbidden' ? null : Promise.reject(e))),
      (ps) =>
        ps
          ? ps.filter((p) => related.test(`${p.metadata?.namespace}/${p.metadata?.name}`)).map((p) => ({ namespace: p.metadata?.namespace, ...podSummary(p) }))
          : { skipped: 'not permitted: the runner may list pods only in its namespace (grant cluster-wide "list pods" to include the other namespaces)' },
    )
    const events = await k8s(`recent events in ${ns}`, `kubectl -n ${ns} get events --sort-by=.lastTimestamp`, (k) => k.listEvents(30), (es) =>
      es.map((e) => `${e.type ?? ''} ${e.reason ?? ''} ${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}: ${e.message ?? ''}`),
    )
    await evidence.note('baseline snapshot', {
      recent_events: String(events.length),
      api_image: api.spec?.template?.spec?.containers?.[0]?.image ?? '-',
      consumer_present: consumer ? 'yes' : 'no',
      pod_count: String(pods.length),
    }, 'pass')
    if (!api.spec?.template?.spec?.containers?.length) throw new GateBlocked(`deployment ${target.api.deployment} in ${ns} has no containers`)
  },
)
