// A tiny stand-in API server for unit tests of the tool fixtures: a real Kube client talks to it, so
// the evidence shows the kubectl lines the kube layer derives from the calls it really sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import * as k8s from '@kubernetes/client-node'
import { Kube } from '../../helpers/kube.ts'

export interface TinyKube {
  kube: Kube
  /** `METHOD /path` of every request the server saw */
  seen: string[]
  close(): Promise<void>
}

export type Answer = (q: IncomingMessage) => unknown | Promise<unknown>

export async function startTinyKube(answer: Answer, opts: { timeoutMs?: number } = {}): Promise<TinyKube> {
  const seen: string[] = []
  const server: Server = createServer(async (q: IncomingMessage, s: ServerResponse) => {
    seen.push(`${q.method} ${q.url}`)
    for await (const _ of q) {
      // drain the body
    }
    const body = await answer(q)
    if (body === undefined) return // never answers
    s.writeHead(200, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' })
    s.end(typeof body === 'string' ? body : JSON.stringify(body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const kc = new k8s.KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as { port: number }).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'unit', cluster: 'c', user: 'u' }],
    currentContext: 'unit',
  })
  const kube = new Kube(kc, { namespace: 'txlookup', timeoutMs: opts.timeoutMs ?? 5000 })
  return {
    kube,
    seen,
    close: async () => {
      kube.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}
