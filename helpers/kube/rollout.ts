// `kubectl rollout status` on a watch (facts §5): kubectl's status logic on the deployment's events,
// the deadline ends it ("timed out waiting for the condition").
import * as k8s from '@kubernetes/client-node'
import { cleanText, KubeAccessError, toKubeAccessError } from './errors.ts'
import { kubectlRolloutLine } from './kubectl-line.ts'
import type { KubeReads } from './reads.ts'

export interface RolloutResult {
  done: boolean
  error?: string
  last?: string
}

type RolloutStatus = { done: boolean; message: string; failed?: boolean }

/** kubectl's DeploymentStatusViewer (rollout_status.go): done, waiting message, or failed (deadline exceeded). */
export function deploymentRolloutStatus(d: k8s.V1Deployment): RolloutStatus {
  const name = d.metadata?.name ?? '?'
  const s = d.status ?? {}
  if ((d.metadata?.generation ?? 0) <= (s.observedGeneration ?? -1)) {
    const progressing = s.conditions?.find((c) => c.type === 'Progressing')
    if (progressing?.reason === 'ProgressDeadlineExceeded')
      return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` }
    const want = d.spec?.replicas ?? 1
    const updated = s.updatedReplicas ?? 0
    if (updated < want)
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...`,
      }
    if ((s.replicas ?? 0) > updated)
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${(s.replicas ?? 0) - updated} old replicas are pending termination...`,
      }
    if ((s.availableReplicas ?? 0) < updated)
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas ?? 0} of ${updated} updated replicas are available...`,
      }
    return { done: true, message: `deployment "${name}" successfully rolled out` }
  }
  return { done: false, message: 'Waiting for deployment spec update to be observed...' }
}

function silentWatch(k: KubeReads, deployment: string, timeoutMs: number, lastError: unknown): KubeAccessError {
  const why = lastError
    ? ` (last error: ${cleanText((lastError as Error)?.message ?? String(lastError), 120)})`
    : ' (no event, no error: the stream stayed silent or was not a watch stream)'
  const fix =
    'check that the API server (and any proxy in front of it) serves watch streams (kubectl rollout status against it), then rerun'
  return new KubeAccessError(
    {
      kind: 'unreachable',
      fix,
      message: `the watch on deployment ${deployment} in ${k.namespace} from API server ${k.server} delivered no event within ${timeoutMs} ms${why}; the rollout state is unknown; ${fix}`,
    },
    k.server,
    lastError,
  )
}

/** A watch failure as the kube layer's AccessError (or the error itself when it is not an access problem). */
function watchAccessError(k: KubeReads, what: string, e: unknown): unknown {
  const ctx = { server: k.server, context: k.contextName, namespace: k.namespace, what, verb: 'watch', resource: 'deployments' }
  return toKubeAccessError(e, ctx) ?? e
}

/** watch failures in a row before the wait gives up as "could not check" (5xx, dropped streams) */
const MAX_WATCH_FAILURES = 5

/** The initial state is the watch's ADDED event (like kubectl's informer), then kubectl's status
 * logic on every change; ProgressDeadlineExceeded and the deadline end it. A missing deployment or a
 * refused watch (401/403/404), or a watch that keeps failing, throws an AccessError. */
export async function waitForRollout(
  k: KubeReads,
  deployment: string,
  opts: { timeoutMs: number; onStatus?: (s: string) => void },
): Promise<RolloutResult> {
  k.report({ kind: 'k8s', command: kubectlRolloutLine({ namespace: k.namespace, deployment, timeoutMs: opts.timeoutMs }) })
  await k.readDeployment(deployment) // NotFound at once, like kubectl
  const path = `/apis/apps/v1/namespaces/${k.namespace}/deployments`
  const what = `watch deployment ${deployment} in ${k.namespace}`
  let st: RolloutStatus = { done: false, message: `Waiting for deployment "${deployment}" to be seen...` }
  let failures = 0
  let seen = false
  let lastError: unknown
  return new Promise<RolloutResult>((resolve, reject) => {
    let ctl: AbortController | undefined
    let settled = false
    let retry: NodeJS.Timeout | undefined
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(retry)
      ctl?.abort()
      k.forgetExecPod(deployment) // its pods changed: exec resolves a pod again
      fn()
    }
    const settle = (r: RolloutResult) => finish(() => resolve(r))
    const fail = (e: unknown) => finish(() => reject(watchAccessError(k, what, e)))
    const timer = setTimeout(() => {
      // a watch that never delivered the deployment says nothing about the rollout: could not check
      if (!seen) return finish(() => reject(silentWatch(k, deployment, opts.timeoutMs, lastError)))
      settle({
        done: false,
        error: `timed out waiting for the condition (${Math.round(opts.timeoutMs / 1000)}s): ${st.message}`,
        last: st.message,
      })
    }, opts.timeoutMs)
    const onEvent = (type: string, obj: k8s.V1Deployment) => {
      failures = 0
      seen = true
      eventsThisWatch++
      if (type === 'DELETED') return settle({ done: false, error: `deployment "${deployment}" has been deleted`, last: st.message })
      if (type !== 'ADDED' && type !== 'MODIFIED') return // BOOKMARK; ERROR (410) ends the stream and we watch again
      st = deploymentRolloutStatus(obj)
      opts.onStatus?.(st.message)
      if (st.done) settle({ done: true, last: st.message })
      else if (st.failed) settle({ done: false, error: st.message, last: st.message })
    }
    const onDone = (err: unknown) => {
      if (settled) return
      const code = (err as { statusCode?: number })?.statusCode
      if (code === 401 || code === 403 || code === 404)
        return fail(Object.assign(new Error(`watch deployments: HTTP ${code}`), { statusCode: code }))
      if (err) lastError = err
      if (err && ++failures >= MAX_WATCH_FAILURES) return fail(err)
      // the server ended the watch (timeoutSeconds, restart) or it broke: watch again until the deadline,
      // at once after a watch that delivered events, after a pause when it broke or said nothing (an
      // HTML page ends "cleanly" with no event: no tight loop against that server)
      const pause = err || !eventsThisWatch ? 500 : 0
      retry = setTimeout(() => void start().catch(fail), pause)
    }
    let eventsThisWatch = 0
    const start = async (): Promise<void> => {
      eventsThisWatch = 0
      const c = await new k8s.Watch(k.kc).watch(
        path,
        { fieldSelector: `metadata.name=${deployment}`, allowWatchBookmarks: true },
        onEvent,
        onDone,
      )
      ctl = c
      if (settled) c.abort()
    }
    start().catch(fail)
  })
}
