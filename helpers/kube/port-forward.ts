// Port-forward (facts §3): 127.0.0.1:<random> to a Ready pod of a service / deployment, or a pod;
// one client-node tunnel (v4.channel.k8s.io) per accepted connection, like kubectl's per-connection streams.

import { createServer, type Server, type Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import * as k8s from '@kubernetes/client-node'
import { KubeTimeoutError, toKubeAccessError } from './errors.ts'
import { kubectlPortForwardLine } from './kubectl-line.ts'
import { isPodReady, selectorString } from './pods.ts'
import type { KubeReads } from './reads.ts'

export interface PortForwardHandle {
  localUrl: string
  pod: string
  close(): void
}

/** what to forward to: `{ service }` (a Ready pod behind it, targetPort resolved), `{ deployment }`,
 * `{ pod }`, or the kubectl spelling `svc/x`, `deploy/x`, `pod/x` (a bare name is a pod) */
export type ForwardTarget = { service?: string; deployment?: string; pod?: string } | string

function parseTarget(t: ForwardTarget): { service?: string; deployment?: string; pod?: string } {
  if (typeof t !== 'string') return t
  const [kind, name] = t.includes('/') ? (t.split('/', 2) as [string, string]) : ['pod', t]
  if (['svc', 'service', 'services'].includes(kind)) return { service: name }
  if (['deploy', 'deployment', 'deployments'].includes(kind)) return { deployment: name }
  if (['pod', 'po', 'pods'].includes(kind)) return { pod: name }
  throw new Error(`port-forward target "${t}": use svc/NAME, deploy/NAME or pod/NAME`)
}

/** a Ready pod behind the service and the pod port its targetPort names */
async function resolveService(k: KubeReads, service: string, port: number): Promise<{ pod: string; podPort: number }> {
  const svc = await k.readService(service)
  const sp = svc.spec?.ports?.find((p) => p.port === port) ?? (svc.spec?.ports?.length === 1 ? svc.spec.ports[0] : undefined)
  if (!sp)
    throw new Error(
      `service ${service} in ${k.namespace} has no port ${port} (ports: ${(svc.spec?.ports ?? []).map((p) => p.port).join(', ') || 'none'})`,
    )
  const sel = selectorString(svc.spec?.selector)
  const pods = (await k.listPods(sel)).filter(isPodReady)
  if (!pods.length) throw new Error(`service ${service} in ${k.namespace} has no Ready pod behind it (selector ${sel || 'none'})`)
  const pod = pods[0].metadata?.name ?? '?'
  const tp = sp.targetPort ?? sp.port
  if (typeof tp === 'number' || /^\d+$/.test(String(tp))) return { pod, podPort: Number(tp) }
  // a named targetPort: the container port of that name
  const named = pods[0].spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === tp)
  if (!named) throw new Error(`service ${service}: targetPort "${tp}" is not a named port of pod ${pod}`)
  return { pod, podPort: named.containerPort }
}

/** one tunnel opened and closed, so a refused port-forward (401/403/404) is an access error here,
 * not a connection reset later in the middle of an HTTP check */
async function preflight(k: KubeReads, pf: k8s.PortForward, pod: string, podPort: number): Promise<void> {
  const what = `port-forward to pod ${pod} port ${podPort} in ${k.namespace}`
  let timer: NodeJS.Timeout | undefined
  let late = false
  const open = pf.portForward(k.namespace, pod, [podPort], new PassThrough(), null, new PassThrough()) as unknown as Promise<{
    close?: () => void
  }>
  try {
    const ws = await Promise.race([
      open,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => {
          late = true
          rej(new KubeTimeoutError(`no answer from API server ${k.server} within ${k.timeoutMs} ms (${what})`, k.server))
        }, k.timeoutMs)
      }),
    ])
    ws.close?.()
  } catch (e) {
    if (late)
      void open.then(
        (w) => w.close?.(),
        () => undefined,
      )
    throw (
      toKubeAccessError(e, {
        server: k.server,
        context: k.contextName,
        namespace: k.namespace,
        what,
        verb: 'create',
        resource: 'pods/portforward',
      }) ?? e
    )
  } finally {
    clearTimeout(timer)
  }
}

export async function openPortForward(k: KubeReads, target: ForwardTarget, port: number): Promise<PortForwardHandle> {
  const t = parseTarget(target)
  let pod = t.pod
  let podPort = port
  if (t.service) ({ pod, podPort } = await resolveService(k, t.service, port))
  else if (t.deployment) pod = (await k.readyPodOf(t.deployment)).metadata?.name
  if (!pod) throw new Error('port-forward needs a service, deployment or pod')
  const pf = new k8s.PortForward(k.kc, true)
  await preflight(k, pf, pod, podPort)
  const sockets = new Set<Socket>()
  const forPod = pod
  const server: Server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    pf.portForward(k.namespace, forPod, [podPort], sock, null, sock).then(
      (ws) => (ws as unknown as { on?: (e: string, f: () => void) => void }).on?.('close', () => sock.end()),
      () => sock.destroy(),
    )
  })
  await new Promise<void>((res, rej) => {
    server.once('error', rej)
    server.listen(0, '127.0.0.1', () => res())
  })
  server.unref()
  k.shared.forwards.push(server)
  const addr = server.address() as { port: number }
  k.report({ kind: 'k8s', command: kubectlPortForwardLine({ namespace: k.namespace, pod, localPort: addr.port, podPort }), pod })
  return {
    localUrl: `http://127.0.0.1:${addr.port}`,
    pod,
    close: () => {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}
