/**
 * F3-4 Task 1 step 1 — snapshot AKS namespace and workloads.
 */
import { deploymentSummary, GateBlocked, gate, podSummary } from '../../helpers/index.ts'

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
  async ({ target, kube, evidence }) => {
    const ns = target.kube.namespace
    await kube.readNamespace({ summarize: (n) => ({ name: n.metadata?.name, phase: n.status?.phase }) })
    const api = await kube.readDeployment(target.api.deployment, {
      step: `API deployment ${target.api.deployment}`,
      summarize: deploymentSummary,
    })
    await kube.readService(target.api.service, {
      step: `API service ${target.api.service}`,
      summarize: (s) => ({ name: s.metadata?.name, ports: s.spec?.ports, selector: s.spec?.selector }),
    })
    const consumer = await kube.findDeployment(target.consumer.deployment, {
      step: `consumer deployment ${target.consumer.deployment}`,
      summarize: (d) =>
        d ? deploymentSummary(d) : { present: false, note: 'consumer-rollout resolves its source from the repository manifests' },
    })
    const pods = await kube.listPods({ summarize: (ps) => ps.map(podSummary) })
    // the plan's `get pods -A | grep … || true`: related pods elsewhere (a consumer deployed to another
    // namespace, say); the least-privilege Role reads one namespace, so "forbidden" is noted, not a failure
    const related = new RegExp(target.kube.relatedPodsPattern, 'i')
    await kube.listPodsAllNamespaces(target.kube.relatedPodsPattern, {
      summarize: (ps) =>
        ps
          ? ps
              .filter((p) => related.test(`${p.metadata?.namespace}/${p.metadata?.name}`))
              .map((p) => ({ namespace: p.metadata?.namespace, ...podSummary(p) }))
          : {
              skipped:
                'not permitted: the runner may list pods only in its namespace (grant cluster-wide "list pods" to include the other namespaces)',
            },
    })
    const events = await kube.listEvents(30, {
      summarize: (es) =>
        es.map(
          (e) => `${e.type ?? ''} ${e.reason ?? ''} ${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}: ${e.message ?? ''}`,
        ),
    })
    await evidence.note(
      'baseline snapshot',
      {
        recent_events: String(events.length),
        api_image: api.spec?.template?.spec?.containers?.[0]?.image ?? '-',
        consumer_present: consumer ? 'yes' : 'no',
        pod_count: String(pods.length),
      },
      'pass',
    )
    if (!api.spec?.template?.spec?.containers?.length)
      throw new GateBlocked(`deployment ${target.api.deployment} in ${ns} has no containers`)
  },
)
