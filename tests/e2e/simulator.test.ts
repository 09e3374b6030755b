// The cluster simulator driven by real clients: @kubernetes/client-node through helpers/kube.ts, and
// kubectl when it is on PATH. Each test fails when the wire behaviour it covers breaks.
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { spawnSync, execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { startSimulator, type Simulator } from '../../fixtures/local-env/sim/server.ts'
import { ensurePki, writeKubeconfig } from '../../fixtures/local-env/sim/pki.ts'
import type { ClusterDefinition } from '../../fixtures/local-env/sim/types.ts'
import { Kube, loadKubeConfig, classifyKubeError } from '../../helpers/kube.ts'

const dir = mkdtempSync(join(tmpdir(), 'sim-'))
const HTTP_POD = "require('http').createServer((q,s)=>{console.log('GET '+q.url);s.end('hello from '+process.env.POD_NAME)}).listen(process.env.PORT,'127.0.0.1')"

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => res(p))
    })
  })
}

let sim: Simulator
let kube: Kube
let kubeconfig: string
let tokensFile: string

function kubeWith(token: string): Kube {
  const f = join(dir, `kc-${token}`)
  writeFileSync(f, readFileSync(kubeconfig, 'utf8').replace(/token: .*/, `token: ${token}`))
  return new Kube(loadKubeConfig({ kubeconfig: f }), { namespace: 'txlookup', timeoutMs: 5000 })
}

beforeAll(async () => {
  const port = await freePort()
  const base = await freePort()
  const pki = ensurePki(join(dir, 'pki'))
  const web = { name: 'app', image: 'web:1', command: [process.execPath, '-e', HTTP_POD], ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/', port: 8080 } } }
  const def: ClusterDefinition = {
    namespaces: [
      {
        name: 'txlookup',
        deployments: [
          { name: 'web', containers: [web] },
          { name: 'stuck', progressDeadlineSeconds: 3, containers: [{ ...web, name: 'app' }], pendingUpdate: { containers: [{ ...web, image: 'web:broken', command: ['sh', '-c', 'echo boom >&2; exit 1'] }] } },
        ],
        services: [{ name: 'web', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }],
        secrets: [],
      },
    ],
    tokens: [
      { token: 'admin-token-0123456789', user: 'admin' },
      { token: 'reader-token-0123456789', user: 'reader', rules: [{ apiGroups: ['', 'apps'], resources: ['pods', 'deployments', 'namespaces'], verbs: ['get', 'list', 'watch'] }] },
    ],
    path: [],
    podPortRange: [base, base + 20].map((x) => Math.min(x, 65000)) as [number, number],
  }
  tokensFile = join(dir, 'tokens.json')
  writeFileSync(tokensFile, '[]')
  sim = await startSimulator(def, { port, tlsKey: pki.serverKey, tlsCert: pki.serverCert, restartBackoffMs: [200, 400], tokensFile })
  kubeconfig = join(dir, 'kubeconfig')
  writeKubeconfig(kubeconfig, { server: sim.url, caCertPem: readFileSync(pki.caCert, 'utf8'), token: 'admin-token-0123456789' })
  kube = new Kube(loadKubeConfig({ kubeconfig }), { namespace: 'txlookup', timeoutMs: 5000 })
  const until = Date.now() + 15_000
  while (Date.now() < until) {
    const pods = await kube.listPods('app=web').catch(() => [])
    if (pods.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) break
    await new Promise((r) => setTimeout(r, 200))
  }
}, 30_000)

afterAll(async () => {
  kube?.close()
  await sim?.stop()
})

describe('exec over WebSocket (v5.channel.k8s.io)', () => {
  test.each([
    [['true'], 0],
    [['sh', '-c', 'exit 1'], 1],
    [['sh', '-c', 'echo oops >&2; exit 3'], 3],
    [['no-such-binary'], 127],
  ])('%j exits %i, read from the status channel', async (command, code) => {
    const r = await kube.execInPod({ deployment: 'web', container: 'app', command, timeoutMs: 5000 })
    expect(r.exitCode).toBe(code)
    if (code === 3) expect(r.stderr).toBe('oops\n')
    if (code === 127) expect(r.stderr).toContain('executable file not found')
  })
  test('stdin reaches the process and the half-close ends it', async () => {
    const r = await kube.execInPod({ deployment: 'web', container: 'app', command: ['sh', '-c', 'cat; echo END'], stdin: 'line1\nline2\n', timeoutMs: 5000 })
    expect(r).toMatchObject({ exitCode: 0, stdout: 'line1\nline2\nEND\n' })
  })
  test('a hanging command is cut by the deadline with no exit code', async () => {
    const r = await kube.execInPod({ deployment: 'web', container: 'app', command: ['sleep', '30'], timeoutMs: 800 })
    expect(r.exitCode).toBeNull()
    expect(r.error).toMatch(/deadline of 800 ms exceeded/)
    expect(r.durationMs).toBeLessThan(10_000)
  })
})

describe('objects, logs, watch, rollout', () => {
  test('pods carry status, labels and readiness', async () => {
    const pods = await kube.listPods('app=web')
    expect(pods).toHaveLength(1)
    expect(pods[0].status?.phase).toBe('Running')
    expect(pods[0].metadata?.labels?.['pod-template-hash']).toBeTruthy()
  })
  test('pod logs honour tailLines', async () => {
    await kube.execInPod({ deployment: 'web', container: 'app', command: ['true'] })
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const pf = await kube.portForward({ pod }, 8080)
    for (const p of ['/a', '/b', '/c']) await fetch(pf.localUrl + p).then((r) => r.text())
    pf.close()
    const logs = await kube.podLogs(pod, 'app', { tailLines: 2 })
    expect(logs.trim().split('\n')).toEqual(['GET /b', 'GET /c'])
  })
  test('a missing namespace is a 404 naming it', async () => {
    const err = await kube.readNamespace('nope').catch((e: unknown) => e)
    expect(classifyKubeError(err)).toMatchObject({ kind: 'not-found', isNamespace: true })
  })
  test('set image (strategic merge) → generation bump → rollout completes on the watch, old pod replaced', async () => {
    const before = (await kube.listPods('app=web'))[0].metadata?.name
    const d = await kube.setContainerImage('web', 'app', 'web:2')
    expect(d.metadata?.generation).toBe(2)
    expect(d.spec?.template?.spec?.containers?.[0]?.command?.[0]).toBe(process.execPath) // merged by name, not replaced
    const seen: string[] = []
    const r = await kube.waitForRollout('web', { timeoutMs: 20_000, onStatus: (s) => seen.push(s) })
    expect(r).toMatchObject({ done: true })
    expect(seen.some((s) => /old replicas are pending termination|Waiting for deployment spec update/.test(s))).toBe(true)
    const pods = await kube.listPods('app=web')
    expect(pods.map((p) => p.metadata?.name)).not.toContain(before)
    expect(pods.every((p) => p.spec?.containers?.[0]?.image === 'web:2')).toBe(true)
  })
  test('a crash-looping new revision ends in ProgressDeadlineExceeded while the old pod keeps serving', async () => {
    const r = await kube.waitForRollout('stuck', { timeoutMs: 20_000 })
    expect(r).toMatchObject({ done: false, error: 'deployment "stuck" exceeded its progress deadline' })
    const pods = await kube.listPods('app=stuck')
    const broken = pods.find((p) => p.spec?.containers?.[0]?.image === 'web:broken')
    expect(broken?.status?.containerStatuses?.[0]?.restartCount).toBeGreaterThan(0)
    expect(pods.some((p) => p.spec?.containers?.[0]?.image === 'web:1' && p.status?.containerStatuses?.[0]?.ready)).toBe(true)
  })
  test('port-forward to a service reaches its pod over HTTP', async () => {
    const pf = await kube.portForward({ service: 'web' }, 80)
    const body = await (await fetch(pf.localUrl + '/x')).text()
    pf.close()
    expect(body).toMatch(/^hello from web-/)
  })
})

describe('authentication and authorization', () => {
  test('a bad token is 401', async () => {
    const err = await kubeWith('wrong-token-0123456789').listPods().catch((e: unknown) => e)
    expect(classifyKubeError(err).kind).toBe('unauthorized')
  })
  test('a token without pods/exec create gets 403 on exec, and can still read', async () => {
    const k = kubeWith('reader-token-0123456789')
    expect((await k.listPods('app=web')).length).toBe(1)
    const err = await k.execInPod({ deployment: 'web', container: 'app', command: ['true'] }).catch((e: unknown) => e)
    expect(classifyKubeError(err).kind).toBe('forbidden')
    const svc = await k.readService('web').catch((e: unknown) => e)
    expect(classifyKubeError(svc).kind).toBe('forbidden')
  })
  test('tokens file is re-read: a new token works without a restart', async () => {
    writeFileSync(tokensFile, JSON.stringify([{ token: 'late-token-0123456789', user: 'late' }]))
    expect((await kubeWith('late-token-0123456789').listPods()).length).toBeGreaterThan(0)
  })
})

const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim()
describe.skipIf(!kubectl)('kubectl 1.32 against the simulator', () => {
  // async: the simulator runs in this very process, a blocking spawn would starve it
  const run = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('kubectl', args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'kubecache') } }, (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      )
    })
  if (!kubectl) console.log('kubectl is not on PATH: skipping the kubectl checks')
  test('get deploy / get pods', async () => {
    const d = await run(['-n', 'txlookup', 'get', 'deploy'])
    expect(d.status, d.stderr).toBe(0)
    expect(d.stdout).toMatch(/^web\s/m)
    const p = await run(['-n', 'txlookup', 'get', 'pods'])
    expect(p.stdout).toMatch(/^web-[a-z0-9]+-[a-z0-9]{5}\s/m)
  })
  test("exec -- sh -c 'exit 3' returns 3; logs", async () => {
    const e = await run(['-n', 'txlookup', 'exec', 'deploy/web', '--', 'sh', '-c', 'echo hi; exit 3'])
    expect(e.status).toBe(3)
    expect(e.stdout).toBe('hi\n')
    const l = await run(['-n', 'txlookup', 'logs', 'deploy/web', '--tail=1'])
    expect(l.status, l.stderr).toBe(0)
  })
  test('set image then rollout status', async () => {
    expect((await run(['-n', 'txlookup', 'set', 'image', 'deploy/web', 'app=web:3'])).status).toBe(0)
    const r = await run(['-n', 'txlookup', 'rollout', 'status', 'deploy/web', '--timeout=30s'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('deployment "web" successfully rolled out')
  })
})
