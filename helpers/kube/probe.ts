// A cheap first call (GET /version, short deadline) so a harness can block every gate at once when
// the API server does not answer, instead of letting each gate time out on its own.
import type * as k8s from '@kubernetes/client-node'
import { AccessError, type CallInfo } from '../access.ts'
import { toKubeAccessError } from './errors.ts'
import { kubectlLine } from './kubectl-line.ts'
import { KubeTransport } from './transport.ts'

export interface ProbeResult {
  server: string
  context: string
  /** gitVersion of the API server, e.g. v1.32.0 */
  version: string
  durationMs: number
}

/** GET /version within `timeoutMs`: the result, or the AccessError saying why not (never throws).
 * A 401/403 on /version is still an answer from the server and comes back as that AccessError. */
export async function probeApiServer(
  kc: k8s.KubeConfig,
  opts: { timeoutMs?: number; transport?: KubeTransport; onCall?: (c: Omit<CallInfo, 'target'>) => void } = {},
): Promise<ProbeResult | AccessError> {
  const timeoutMs = opts.timeoutMs ?? 3000
  const transport = opts.transport ?? new KubeTransport(kc)
  const server = kc.getCurrentCluster()?.server ?? '?'
  const command = kubectlLine({ verb: 'raw', resource: 'version', path: '/version' })
  const t0 = performance.now()
  try {
    const r = await transport.send<{ gitVersion?: unknown }>({
      method: 'GET',
      path: '/version',
      expect: 'json',
      timeoutMs,
      what: 'GET /version, the first cheap call',
    })
    opts.onCall?.({ kind: 'k8s', command, status: r.status })
    return {
      server,
      context: kc.getCurrentContext(),
      version: typeof r.body.gitVersion === 'string' ? r.body.gitVersion : '?',
      durationMs: Math.round(performance.now() - t0),
    }
  } catch (e) {
    opts.onCall?.({ kind: 'k8s', command, status: (e as { code?: number })?.code })
    return (
      toKubeAccessError(e, { server, context: kc.getCurrentContext(), what: 'GET /version' }) ??
      new AccessError({
        kind: 'server-error',
        where: server,
        message: `API server ${server} did not answer GET /version usably: ${(e as Error)?.message ?? String(e)}`,
        fix: 'check the API server with kubectl get --raw /version',
      })
    )
  } finally {
    if (!opts.transport) transport.close()
  }
}
