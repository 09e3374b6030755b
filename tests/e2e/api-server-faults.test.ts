// API servers that misbehave, against the kube layer directly: every fault is "could not check" — an
// AccessError (ENVIRONMENT_BLOCKED) of the right kind, one paragraph naming the server, what came
// back and what to do, never a TypeError text, no unhandled error (vitest fails on those), and within
// the client's own deadline (each Kube here has a short timeoutMs; the test timeout is far above it).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server } from 'node:https'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type WebSocket, WebSocketServer } from 'ws'
import { stringify } from 'yaml'
import { ensurePki } from '../../fixtures/local-env/sim/pki.ts'
import { AccessError } from '../../helpers/access.ts'
import { Kube, type KubeExecError, KubeTimeoutError, loadKubeConfig, probeApiServer } from '../../helpers/kube.ts'

const NS = 'txlookup'
const DEADLINE_MS = 800
// every case must end well inside this (the client deadline plus the exec ping grace); a hang fails the test
const BOUND_MS = 5_000
const dir = mkdtempSync(join(tmpdir(), 'api-faults-'))
const pki = ensurePki(join(dir, 'pki'))
const otherPki = ensurePki(join(dir, 'other-pki'))

type Scenario = (req: IncomingMessage, res: ServerResponse) => void
type WsScenario = (ws: WebSocket) => void
let scenario: Scenario = (_q, s) => s.end()
let wsScenario: WsScenario = (ws) => ws.close(1000)
let server: Server
let url = ''
const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'v5.channel.k8s.io' })
const silent = new Set<Socket | Duplex>()

const pod = (name: string) => ({
  metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'web' } },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
})
const json = (res: ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
const statusBody = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
})
const frame = (ch: number, s: string) => Buffer.concat([Buffer.from([ch]), Buffer.from(s)])

beforeAll(async () => {
  server = createHttpsServer({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (q, s) => scenario(q, s))
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.includes('/exec?')) wss.handleUpgrade(req, socket, head, (ws) => wsScenario(ws))
    else socket.destroy()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(async () => {
  for (const s of silent) s.destroy()
  for (const c of wss.clients) c.terminate()
  wss.close()
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

function kubeconfigFile(name: string, o: { server?: string; ca?: string; user?: Record<string, unknown> } = {}): string {
  const f = join(dir, `${name}.kubeconfig`)
  const cluster = {
    server: o.server ?? url,
    'certificate-authority-data': Buffer.from(o.ca ?? readFileSync(pki.caCert, 'utf8')).toString('base64'),
  }
  writeFileSync(
    f,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'faulty', cluster }],
      users: [{ name: 'runner', user: o.user ?? { token: 'fault-test-token-0123456789' } }],
      contexts: [{ name: 'faulty', context: { cluster: 'faulty', user: 'runner', namespace: NS } }],
      'current-context': 'faulty',
    }),
  )
  return f
}
const kubeFor = (name: string, o?: Parameters<typeof kubeconfigFile>[1]) =>
  new Kube(loadKubeConfig({ kubeconfig: kubeconfigFile(name, o) }), { namespace: NS, timeoutMs: DEADLINE_MS })

/** the assertions every fault shares; returns the error for the case's own checks */
async function expectBlocked(p: Promise<unknown>, kind: AccessError['kind'], server = url): Promise<AccessError> {
  const err = await p.then(
    (v) => ({ resolved: v }),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AccessError)
  const e = err as AccessError
  expect(e.kind).toBe(kind)
  expect(e.classification).toBe('ENVIRONMENT_BLOCKED')
  expect(e.message).toContain(server) // names the server
  expect(e.message).not.toMatch(/\n/) // one paragraph
  expect(e.message).not.toMatch(/TypeError|Cannot read properties|undefined \(reading/)
  expect(e.message).not.toContain('fault-test-token') // never the token
  expect(e.fix.length).toBeGreaterThan(10) // what to do
  expect(e.message).toContain(e.fix)
  return e
}

/** serve one Ready pod of deployment web so exec resolves it, and hand exec upgrades to `ws` */
function deploymentWithPod(): Scenario {
  return (q, s) => {
    if (q.url?.startsWith(`/apis/apps/v1/namespaces/${NS}/deployments/web`))
      return json(s, 200, {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        metadata: { name: 'web' },
        spec: { selector: { matchLabels: { app: 'web' } } },
      })
    if (q.url?.startsWith(`/api/v1/namespaces/${NS}/pods?`))
      return json(s, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod('web-1')] })
    json(s, 404, statusBody(404, 'NotFound', 'not here'))
  }
}

describe('HTTP answers that are not a Kubernetes answer', { timeout: BOUND_MS }, () => {
  test('500 etcdserver: request timed out → server-error naming the server and the etcd message', async () => {
    scenario = (_q, s) => json(s, 500, statusBody(500, 'InternalError', 'etcdserver: request timed out'))
    const e = await expectBlocked(kubeFor('etcd').readDeployment('web'), 'server-error')
    expect(e.message).toMatch(/answered 500 "etcdserver: request timed out"/)
  })
  test('an HTML login page from a proxy (200 text/html) → server-error saying it is HTML', async () => {
    scenario = (_q, s) => {
      s.writeHead(200, { 'content-type': 'text/html' })
      s.end('<!doctype html><html><body><form action="/login">Sign in</form></body></html>')
    }
    const e = await expectBlocked(kubeFor('html').listPods(), 'server-error')
    expect(e.message).toMatch(/an HTML page, not a Kubernetes object/)
  })
  test('a JSON body that is not a Kubernetes object (a list without items) → server-error, never the .map TypeError', async () => {
    scenario = (_q, s) => json(s, 200, { kind: 'PodList', hello: 'world' })
    const e = await expectBlocked(kubeFor('notobj').listPods(), 'server-error')
    expect(e.message).toMatch(/a body that is not a Kubernetes object/)
    scenario = (_q, s) => json(s, 200, 'ok')
    await expectBlocked(kubeFor('notobj2').readDeployment('web'), 'server-error')
  })
  test('a server that accepts and never answers → KubeTimeoutError at the client deadline', async () => {
    scenario = (q) => void silent.add(q.socket) // keep the request open, never answer
    const e = await expectBlocked(kubeFor('hang').readNamespace(), 'unreachable')
    expect(e).toBeInstanceOf(KubeTimeoutError)
    expect(e.message).toContain(`within ${DEADLINE_MS} ms`)
  })
  test('401 → unauthorized with how to refresh the credentials', async () => {
    scenario = (_q, s) => json(s, 401, statusBody(401, 'Unauthorized', 'Unauthorized'))
    const e = await expectBlocked(kubeFor('401').listPods(), 'unauthorized')
    expect(e.fix).toMatch(/kubelogin convert-kubeconfig/)
  })
  test('403 → forbidden naming verb and resource, with the Role rule to add', async () => {
    scenario = (_q, s) =>
      json(
        s,
        403,
        statusBody(
          403,
          'Forbidden',
          `pods is forbidden: User "runner" cannot list resource "pods" in API group "" in the namespace "${NS}"`,
        ),
      )
    const e = await expectBlocked(kubeFor('403').listPods(), 'forbidden')
    expect(e).toMatchObject({ verb: 'list', resource: 'pods' })
    expect(e.fix).toContain('- apiGroups: [""]  resources: ["pods"]  verbs: ["list"]')
  })
})

describe('connections that fail before any answer', { timeout: BOUND_MS }, () => {
  test('a CA that did not sign the server certificate → tls, re-fetch the kubeconfig', async () => {
    scenario = (_q, s) => json(s, 200, { kind: 'Namespace', metadata: { name: NS } })
    const e = await expectBlocked(kubeFor('wrong-ca', { ca: readFileSync(otherPki.caCert, 'utf8') }).readNamespace(), 'tls')
    expect(e.message).toMatch(/not trusted by the kubeconfig's certificate-authority-data/)
  })
  test('a refused port → unreachable, connection refused, flagged as no answer', async () => {
    const probe: NetServer = createNetServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const port = (probe.address() as { port: number }).port
    await new Promise((r) => probe.close(r))
    const refused = `https://127.0.0.1:${port}`
    const e = await expectBlocked(kubeFor('refused', { server: refused }).listPods(), 'unreachable', refused)
    expect(e.message).toMatch(/connection refused/)
    expect((e as { isNoAnswer?: boolean }).isNoAnswer).toBe(true)
  })
  test('probeApiServer: an answer is a result; a server that never answers is an AccessError within its deadline', async () => {
    scenario = (_q, s) => json(s, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0' })
    const ok = await probeApiServer(loadKubeConfig({ kubeconfig: kubeconfigFile('probe-ok') }), { timeoutMs: DEADLINE_MS })
    expect(ok).toMatchObject({ server: url, version: 'v1.32.0' })
    scenario = (q) => void silent.add(q.socket)
    const bad = await probeApiServer(loadKubeConfig({ kubeconfig: kubeconfigFile('probe-hang') }), { timeoutMs: 300 })
    expect(bad).toBeInstanceOf(AccessError)
    expect((bad as AccessError).message).toMatch(/no answer from API server .* within 300 ms \(GET \/version/)
  })
})

describe('rollout waits on a watch that says nothing', { timeout: BOUND_MS }, () => {
  const deployment = {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    metadata: { name: 'web', generation: 2 },
    spec: { replicas: 1 },
    status: { observedGeneration: 1 },
  }
  test('a watch answered with an HTML page → unreachable at the deadline, not "timed out waiting for the condition"', async () => {
    scenario = (q, s) => {
      if (!q.url?.includes('watch=true')) return json(s, 200, deployment)
      s.writeHead(200, { 'content-type': 'text/html' })
      s.end('<html><body>Sign in</body></html>')
    }
    const e = await expectBlocked(kubeFor('watch-html').waitForRollout('web', { timeoutMs: 600 }), 'unreachable')
    expect(e.message).toMatch(/the watch on deployment web in txlookup from API server .* delivered no event within 600 ms/)
  })
  test('a watch that never sends a byte → unreachable at the deadline', async () => {
    scenario = (q, s) => (q.url?.includes('watch=true') ? void silent.add(q.socket) : json(s, 200, deployment))
    await expectBlocked(kubeFor('watch-silent').waitForRollout('web', { timeoutMs: 600 }), 'unreachable')
  })
  test('a watch that delivers the deployment but it never finishes is a result (the rollout is not done), not an access error', async () => {
    scenario = (q, s) => {
      if (!q.url?.includes('watch=true')) return json(s, 200, deployment)
      s.writeHead(200, { 'content-type': 'application/json' })
      s.write(JSON.stringify({ type: 'ADDED', object: deployment }) + '\n')
      silent.add(q.socket)
    }
    const r = await kubeFor('watch-stuck').waitForRollout('web', { timeoutMs: 600 })
    expect(r).toMatchObject({
      done: false,
      error: expect.stringContaining('timed out waiting for the condition'),
      last: 'Waiting for deployment spec update to be observed...',
    })
  })
})

describe('exec credential plugins', { timeout: BOUND_MS }, () => {
  const execUser = (command: string, args: string[]) => ({
    exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command, args, interactiveMode: 'Never' },
  })
  test('a plugin that fails → unauthorized naming the plugin command and its stderr', async () => {
    scenario = (_q, s) => json(s, 200, { kind: 'PodList', metadata: {}, items: [] })
    const e = await expectBlocked(
      kubeFor('plugin-fails', { user: execUser('sh', ['-c', 'echo "AADSTS70043: the refresh token has expired" >&2; exit 1']) }).listPods(),
      'unauthorized',
    )
    expect(e.message).toMatch(/exec credential plugin `sh -c .*` .* failed: AADSTS70043: the refresh token has expired/)
  })
  test('a plugin that prints garbage → unauthorized, not an ExecCredential, nothing it printed echoed', async () => {
    const e = await expectBlocked(
      kubeFor('plugin-garbage', { user: execUser('sh', ['-c', 'printf "zzgarbage%s" -printed']) }).listPods(),
      'unauthorized',
    )
    expect(e.message).toMatch(/printed something that is not an ExecCredential JSON document/)
    expect(e.message).not.toContain('zzgarbage-printed')
  })
  test('a plugin that is not installed → unauthorized, not found on PATH', async () => {
    const e = await expectBlocked(
      kubeFor('plugin-missing', { user: execUser('kubelogin-not-installed-here', ['get-token']) }).listPods(),
      'unauthorized',
    )
    expect(e.message).toMatch(/`kubelogin-not-installed-here get-token` .* is not installed/)
  })
})

describe('exec streams that break', { timeout: BOUND_MS }, () => {
  test('a healthy exec: output split mid-character across frames is decoded whole; the exit code from the status', async () => {
    scenario = deploymentWithPod()
    const euro = Buffer.from('price: 5€\n')
    wsScenario = (ws) => {
      ws.send(Buffer.concat([Buffer.from([1]), euro.subarray(0, 9)])) // "price: 5" + the first byte of €
      ws.send(Buffer.concat([Buffer.from([1]), euro.subarray(9)]))
      ws.send(
        frame(
          3,
          JSON.stringify({
            metadata: {},
            status: 'Failure',
            reason: 'NonZeroExitCode',
            details: { causes: [{ reason: 'ExitCode', message: '3' }] },
          }),
        ),
      )
    }
    const r = await kubeFor('ws-ok').execInPod({ deployment: 'web', container: 'app', command: ['sh', '-c', 'exit 3'] })
    expect(r).toMatchObject({ exitCode: 3, stdout: 'price: 5€\n', target: { pod: 'web-1', container: 'app' } })
  })
  test('a malformed status frame on channel 3 → server-error, output so far kept, no unhandled error', async () => {
    scenario = deploymentWithPod()
    wsScenario = (ws) => {
      ws.send(frame(1, 'partial output\n'))
      ws.send(frame(3, '{"metadata":{},"status":')) // cut JSON: client-node 2.0.1 throws outside its promise here
    }
    const e = await expectBlocked(
      kubeFor('ws-malformed').execInPod({ deployment: 'web', container: 'app', command: ['true'] }),
      'server-error',
    )
    expect(e.message).toMatch(/malformed exec status frame on channel 3/)
    expect((e as KubeExecError).partial.stdout).toBe('partial output\n')
  })
  test('a status frame that is JSON but not a Status → server-error', async () => {
    wsScenario = (ws) => ws.send(frame(3, '["not","a","status"]'))
    await expectBlocked(kubeFor('ws-notstatus').execInPod({ deployment: 'web', container: 'app', command: ['true'] }), 'server-error')
  })
  test('a stream dropped mid-output (no close frame) → unreachable, the command may or may not have completed', async () => {
    wsScenario = (ws) => {
      ws.send(frame(1, 'half a li'))
      setTimeout(() => ws.terminate(), 20)
    }
    const e = await expectBlocked(
      kubeFor('ws-dropped').execInPod({ deployment: 'web', container: 'app', command: ['true'] }),
      'unreachable',
    )
    expect(e.message).toMatch(/dropped after 9 bytes of output before the exit status/)
    expect((e as KubeExecError).partial.stdout).toBe('half a li')
  })
  test('a clean close without a status after output → server-error (missing exec status)', async () => {
    wsScenario = (ws) => {
      ws.send(frame(1, 'done\n'))
      ws.close(1000)
    }
    const e = await expectBlocked(
      kubeFor('ws-nostatus').execInPod({ deployment: 'web', container: 'app', command: ['true'] }),
      'server-error',
    )
    expect(e.message).toMatch(/without an exit status \(close code 1000\)/)
  })
  test('a command that hangs on a live stream is a pod-side hang: a result cut at the deadline, not an access error', async () => {
    wsScenario = (ws) => ws.send(frame(1, 'working...\n')) // alive (ws answers pings), never finishes
    const r = await kubeFor('ws-hang').execInPod({ deployment: 'web', container: 'app', command: ['sleep', '1000'], timeoutMs: 400 })
    expect(r).toMatchObject({ exitCode: null, stdout: 'working...\n', error: 'deadline of 400 ms exceeded; the command was cut' })
  })
  test('a stream that goes silent and does not answer a ping at the deadline → unreachable (transport loss, not a hang)', async () => {
    wsScenario = (ws) => {
      ws.send(frame(1, 'started\n'))
      ;(ws as unknown as { _socket: Socket })._socket.pause() // reads stop: the ping is never answered
    }
    const e = await expectBlocked(
      kubeFor('ws-silent').execInPod({ deployment: 'web', container: 'app', command: ['true'], timeoutMs: 300 }),
      'unreachable',
    )
    expect(e.message).toMatch(/no answer on the exec stream .* for 300 ms \(a ping was not answered either/)
    expect((e as KubeExecError).partial.stdout).toBe('started\n')
  })
  test('an upgrade refused with 403 and a Status body → forbidden on pods/exec with the Role rule', async () => {
    scenario = deploymentWithPod()
    const k = kubeFor('ws-403')
    server.removeAllListeners('upgrade')
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      const body = JSON.stringify(
        statusBody(
          403,
          'Forbidden',
          `pods "web-1" is forbidden: User "runner" cannot create resource "pods/exec" in API group "" in the namespace "${NS}"`,
        ),
      )
      socket.end(
        `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      )
    })
    try {
      const e = await expectBlocked(k.execInPod({ deployment: 'web', container: 'app', command: ['true'] }), 'forbidden')
      expect(e).toMatchObject({ verb: 'create', resource: 'pods/exec' })
      expect(e.fix).toContain('resources: ["pods/exec"]  verbs: ["create", "get"]')
    } finally {
      server.removeAllListeners('upgrade')
      server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wsScenario(ws)))
    }
  })
  test('an upgrade answered 500 with an HTML page → server-error', async () => {
    server.removeAllListeners('upgrade')
    server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
      const body = '<html><body>502 Bad Gateway</body></html>'
      socket.end(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      )
    })
    try {
      scenario = deploymentWithPod()
      const e = await expectBlocked(kubeFor('ws-502').execInPod({ deployment: 'web', container: 'app', command: ['true'] }), 'server-error')
      expect(e.message).toMatch(/answered 502 with an HTML page/)
    } finally {
      server.removeAllListeners('upgrade')
      server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wsScenario(ws)))
    }
  })
})
