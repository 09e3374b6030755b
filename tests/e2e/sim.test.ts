// The cluster simulator driven by real clients: @kubernetes/client-node through helpers/kube.ts, and
// kubectl 1.32 when it is on PATH. Each test fails when the wire behaviour it covers breaks.

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import * as k8s from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensurePki, execPluginOf, writeKubeconfig } from '../../fixtures/local-env/sim/pki.ts'
import { type Simulator, startSimulator } from '../../fixtures/local-env/sim/server.ts'
import type { ClusterDefinition, ContainerDef } from '../../fixtures/local-env/sim/types.ts'
import { classifyKubeError, isPodReady, Kube, KubeAccessError, loadKubeConfig } from '../../helpers/kube.ts'

const dir = mkdtempSync(join(tmpdir(), 'sim-'))
const NS = 'txlookup'
const ADMIN = 'admin-token-0123456789abcdef'
const READER = 'reader-token-0123456789abcdef'
// an HTTP pod: /ready for the probe (not logged), /pid for its process id, anything else logged
const HTTP_POD =
  "const h=require('http');h.createServer((q,s)=>{if(q.url==='/ready')return s.end('ok');if(q.url==='/pid')return s.end(String(process.pid));console.log('GET '+q.url);s.end('hello from '+process.env.POD_NAME+' '+process.env.GREETING)}).listen(process.env.PORT,'127.0.0.1',()=>console.error('listening'))"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`)
    await sleep(150)
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}
/** a free port block below the kernel's ephemeral range, so client connections never hold a pod port */
async function portBlock(n: number): Promise<[number, number]> {
  for (;;) {
    const lo = 20_000 + Math.floor(Math.random() * 12_000)
    const all = await Promise.all(Array.from({ length: n }, (_, i) => bindable(lo + i)))
    if (all.every(Boolean)) return [lo, lo + n - 1]
  }
}
async function freePort(): Promise<number> {
  const [p] = await portBlock(1)
  return p
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let sim: Simulator
let kube: Kube
let kubeconfig: string
let caPem: string
const markerFile = join(dir, 'probe-ready')
// extra tokens re-read when the file's mtime changes (an RBAC test rebinds a token without a restart)
const tokensFile = join(dir, 'tokens.json')
writeFileSync(tokensFile, '[]')

function kubeconfigWith(token: string, server = sim.url, ca = caPem): string {
  const f = join(dir, `kc-${token.slice(0, 12)}-${Math.random().toString(36).slice(2, 6)}`)
  writeKubeconfig(f, { server, caCertPem: ca, token, namespace: NS })
  return f
}
/** a kubeconfig whose user signs in through an exec-credential plugin (kubelogin's way) */
function execKubeconfig(exec: { command: string; args: string[] }): string {
  const f = join(dir, `kc-exec-${Math.random().toString(36).slice(2, 8)}`)
  writeKubeconfig(f, { server: sim.url, caCertPem: caPem, exec, namespace: NS })
  return f
}
const ROOT_DIR = fileURLToPath(new URL('../..', import.meta.url))
const kubeWith = (token: string, server?: string, ca?: string) =>
  new Kube(loadKubeConfig({ kubeconfig: kubeconfigWith(token, server, ca) }), { namespace: NS, timeoutMs: 5000 })
const podNames = async (sel: string) => (await kube.listPods(sel)).map((p) => p.metadata?.name as string)

const web: ContainerDef = {
  name: 'app',
  image: 'web:1',
  command: [process.execPath, '-e', HTTP_POD],
  workingDir: dir,
  env: { FROM_ENV: 'env-value' },
  envFromSecrets: ['web-env'],
  ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
}

function definition(podPortRange: [number, number]): ClusterDefinition {
  return {
    namespaces: [
      {
        name: NS,
        deployments: [
          { name: 'web', containers: [web] },
          { name: 'multi', replicas: 2, containers: [web] },
          {
            name: 'stuck',
            progressDeadlineSeconds: 3,
            containers: [web],
            pendingUpdate: { containers: [{ ...web, image: 'web:broken', command: ['sh', '-c', 'echo boom >&2; exit 1'] }] },
          },
          {
            name: 'gated',
            containers: [
              {
                name: 'app',
                image: 'gated:1',
                command: ['sleep', '300'],
                readinessProbe: { exec: { command: ['test', '-f', markerFile] } },
              },
            ],
          },
        ],
        services: [{ name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }],
        secrets: [{ name: 'web-env', data: { GREETING: 'hi there' } }],
        networkPolicies: [{ name: 'web', podSelector: { app: 'web' }, policyTypes: ['Ingress'] }],
      },
    ],
    tokens: [
      { token: ADMIN, user: 'admin' },
      // may read and `get` pods/exec (pre-1.31 roles), but not `create` it
      {
        token: READER,
        user: 'reader',
        namespace: NS,
        rules: [
          {
            apiGroups: ['', 'apps'],
            resources: ['pods', 'pods/exec', 'pods/log', 'deployments', 'namespaces'],
            verbs: ['get', 'list', 'watch'],
          },
        ],
      },
    ],
    path: [],
    podPortRange,
  }
}

beforeAll(async () => {
  const port = await freePort()
  const pki = ensurePki(join(dir, 'pki'))
  caPem = readFileSync(pki.caCert, 'utf8')
  sim = await startSimulator(definition(await portBlock(30)), {
    port,
    tlsKey: pki.serverKey,
    tlsCert: pki.serverCert,
    restartBackoffMs: [200, 400],
    logDir: join(dir, 'logs'),
    tokensFile,
  })
  kubeconfig = kubeconfigWith(ADMIN)
  kube = new Kube(loadKubeConfig({ kubeconfig }), { namespace: NS, timeoutMs: 5000 })
  await until(
    'web and multi Ready',
    async () => (await kube.listPods('app=web')).some(isPodReady) && (await kube.listPods('app=multi')).filter(isPodReady).length === 2,
  )
}, 60_000)

afterAll(async () => {
  kube?.close()
  await sim?.stop()
})

describe('exec over WebSocket (v5.channel.k8s.io)', () => {
  test.each([
    [['true'], 0, ''],
    [['sh', '-c', 'exit 1'], 1, ''],
    [['sh', '-c', 'echo out; echo oops >&2; exit 3'], 3, 'oops\n'],
    [['no-such-binary'], 127, 'executable file not found in $PATH'],
  ])('%j exits %i, read from the status channel', async (command, code, stderr) => {
    const r = await kube.execInPod({ deployment: 'web', container: 'app', command, timeoutMs: 5000 })
    expect(r.error).toBeUndefined()
    expect(r.exitCode).toBe(code)
    expect(r.stderr).toContain(stderr)
    if (code === 3) expect(r.stdout).toBe('out\n')
    expect(r.target).toMatchObject({ namespace: NS, container: 'app', pod: expect.stringMatching(/^web-[a-z0-9]{10}-[a-z0-9]{5}$/) })
  })

  test('stdin (binary) reaches the process and the [255,0] half-close ends it', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 65])
    const r = await kube.execInPod({
      deployment: 'web',
      container: 'app',
      command: ['sh', '-c', 'od -An -tu1 | tr -s " " | sed "s/^ //"'],
      stdin: bytes,
      timeoutMs: 5000,
    })
    expect(r).toMatchObject({ exitCode: 0, stdout: '0 1 2 255 254 10 65\n' })
  })

  test('the process gets the container env (env, envFrom secret, PORT, POD_NAME) and workingDir', async () => {
    const r = await kube.execInPod({
      deployment: 'web',
      container: 'app',
      command: ['sh', '-c', 'echo "$FROM_ENV|$GREETING|$POD_NAME|${PORT:+port}|$(pwd)"'],
    })
    expect(r.stdout).toBe(`env-value|hi there|${r.target.pod}|port|${dir}\n`)
  })

  test('copyToPod writes content with quotes, $ and newlines byte for byte', async () => {
    const content = `it's "quoted" $HOME \`x\` \\ end\nline2\n`
    const dest = join(dir, 'copied.txt')
    const w = await kube.copyToPod({ deployment: 'web' }, 'app', dest, content)
    expect(w.exitCode).toBe(0)
    expect(readFileSync(dest, 'utf8')).toBe(content)
  })

  test('a hanging command is cut by the deadline (exitCode null) and its process is killed', async () => {
    const r = await kube.execInPod({
      deployment: 'web',
      container: 'app',
      command: ['sh', '-c', 'echo $$; exec sleep 60'],
      timeoutMs: 1000,
    })
    expect(r.exitCode).toBeNull()
    expect(r.error).toMatch(/deadline of 1000 ms exceeded/)
    const pid = Number(r.stdout.trim())
    expect(pid).toBeGreaterThan(1)
    await until('exec process killed after the client went', async () => !alive(pid), 10_000)
  })

  test('exec into a pod that does not exist is a not-found access error', async () => {
    const err = await kube.execInPod({ pod: 'web-nope', container: 'app', command: ['true'], timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KubeAccessError)
    expect(classifyKubeError(err)).toMatchObject({ kind: 'not-found', code: 404 })
    expect((err as Error).message).toContain('web-nope')
  })
})

describe('objects, tables, logs, events', () => {
  test('pods carry phase, Ready condition, containerStatuses, labels and owner', async () => {
    const [p] = await kube.listPods('app=web')
    expect(p.status?.phase).toBe('Running')
    expect(isPodReady(p)).toBe(true)
    expect(p.status?.containerStatuses?.[0]).toMatchObject({ name: 'app', image: 'web:1', ready: true, restartCount: 0 })
    expect(p.metadata?.labels).toMatchObject({ app: 'web', 'pod-template-hash': expect.any(String) })
    expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', name: `web-${p.metadata?.labels?.['pod-template-hash']}` })
  })

  test('secrets come base64 like a real server; the harness lists names only', async () => {
    expect(await kube.listSecretNames()).toEqual(['web-env'])
    const s = await kube.kc.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: 'web-env', namespace: NS })
    expect(s.data?.GREETING).toBe(Buffer.from('hi there').toString('base64'))
    expect((await kube.listNetworkPolicies()).map((n) => n.metadata?.name)).toEqual(['web'])
  })

  test('an exec readiness probe gates Ready', async () => {
    const [p] = await kube.listPods('app=gated')
    expect(p.status?.phase).toBe('Running')
    expect(isPodReady(p)).toBe(false)
    writeFileSync(markerFile, '')
    await until('gated pod Ready after the probe file appears', async () => (await kube.listPods('app=gated')).some(isPodReady))
  })

  test('a Table for kubectl get (Accept as=Table), JSON otherwise', async () => {
    const get = (accept: string) =>
      new Promise<{ kind: string; columnDefinitions?: { name: string }[]; rows?: { cells: unknown[] }[] }>((resolve, reject) => {
        const u = new URL(`${sim.url}/apis/apps/v1/namespaces/${NS}/deployments`)
        request(u, { ca: caPem, headers: { Authorization: `Bearer ${ADMIN}`, Accept: accept } }, (res) => {
          let b = ''
          res.on('data', (d: Buffer) => (b += d.toString()))
          res.on('end', () => resolve(JSON.parse(b)))
        })
          .on('error', reject)
          .end()
      })
    const t = await get('application/json;as=Table;v=v1;g=meta.k8s.io,application/json')
    expect(t.kind).toBe('Table')
    expect(t.columnDefinitions?.map((c) => c.name).slice(0, 5)).toEqual(['Name', 'Ready', 'Up-to-date', 'Available', 'Age'])
    expect(t.rows?.find((r) => r.cells[0] === 'web')?.cells[1]).toBe('1/1')
    expect((await get('application/json')).kind).toBe('DeploymentList')
  })

  test('pod logs: tailLines, and --previous of a crash-looping container', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const pf = await kube.portForward(`pod/${pod}`, 8080)
    for (const p of ['/a', '/b', '/c']) await fetch(pf.localUrl + p).then((r) => r.text())
    pf.close()
    expect((await kube.podLogs(pod, 'app', { tailLines: 2 })).split('\n').filter(Boolean)).toEqual(['GET /b', 'GET /c'])
    expect(await kube.podLogs(pod, 'app')).toMatch(/^listening\n/)
    const broken = await until('stuck pod restarted once', async () =>
      (await kube.listPods('app=stuck')).find(
        (p) => p.spec?.containers[0].image === 'web:broken' && (p.status?.containerStatuses?.[0].restartCount ?? 0) > 0,
      ),
    )
    expect(await kube.podLogs(broken.metadata?.name as string, 'app', { previous: true })).toBe('boom\n')
  })

  test('pod logs follow: new lines stream as the container writes them', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    let got = ''
    const sink = new PassThrough()
    sink.on('data', (d: Buffer) => (got += d.toString()))
    // client-node pipes Readable.fromWeb(body) into the sink with no error listener on that source:
    // abort() errors the source, which would surface as an uncaught AbortError. Listen on the source.
    sink.on('pipe', (src: NodeJS.ReadableStream) => src.on('error', () => undefined))
    const ctl = await new k8s.Log(kube.kc).log(NS, pod, 'app', sink, () => undefined, { follow: true, tailLines: 1, timestamps: true })
    const pf = await kube.portForward({ pod }, 8080)
    await fetch(pf.localUrl + '/followed').then((r) => r.text())
    pf.close()
    await until('followed line', async () => /^\d{4}-\d\d-\d\dT[\d:.]+Z GET \/followed$/m.test(got), 5000)
    ctl.abort()
  })

  test('events like the kubelet and the deployment controller write them', async () => {
    const reasons = new Set((await kube.listEvents(1000)).map((e) => e.reason))
    for (const r of ['Scheduled', 'Pulled', 'Created', 'Started', 'ScalingReplicaSet']) expect(reasons).toContain(r)
    await until('a BackOff event for the crash-looping pod', async () =>
      (await kube.listEvents(1000)).some((e) => e.reason === 'BackOff' && e.type === 'Warning'),
    )
  })
})

describe('deployments: patch, rollout, watch', () => {
  test('set image (strategic merge, containers by name) → generation 2, revision 2, rollout completes on the watch, old pod replaced', async () => {
    const before = await podNames('app=web')
    const d = await kube.setContainerImage('web', 'app', 'web:2')
    expect(d.metadata?.generation).toBe(2)
    expect(d.spec?.template?.spec?.containers?.[0]).toMatchObject({ image: 'web:2', command: web.command }) // merged, not replaced
    const seen: string[] = []
    const r = await kube.waitForRollout('web', { timeoutMs: 20_000, onStatus: (s) => seen.push(s) })
    expect(r).toMatchObject({ done: true, last: 'deployment "web" successfully rolled out' })
    expect(seen.some((s) => /Waiting for deployment "web" rollout to finish/.test(s))).toBe(true)
    await until(
      'old pod gone',
      async () => (await podNames('app=web')).every((n) => !before.includes(n)) && (await kube.listPods('app=web')).length === 1,
    )
    const dep = await kube.readDeployment('web')
    expect(dep.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2')
    const rs = await kube.kc.makeApiClient(k8s.AppsV1Api).listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' })
    const byRev = Object.fromEntries(
      rs.items.map((x) => [x.metadata?.annotations?.['deployment.kubernetes.io/revision'], x.spec?.replicas]),
    )
    expect(byRev).toEqual({ '1': 0, '2': 1 })
  })

  test('a watch from a list resourceVersion replays what changed after it', async () => {
    const apps = kube.kc.makeApiClient(k8s.AppsV1Api)
    const list = await apps.listNamespacedDeployment({ namespace: NS, fieldSelector: 'metadata.name=web' })
    await kube.patchDeployment('web', {
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } },
    })
    expect((await kube.waitForRollout('web', { timeoutMs: 20_000 })).done).toBe(true)
    // only a replay can show generation 3 not yet observed: live, the rollout is long over
    const events: { type: string; gen?: number; observed?: number }[] = []
    const ctl = await new k8s.Watch(kube.kc).watch(
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      { fieldSelector: 'metadata.name=web', resourceVersion: list.metadata?.resourceVersion },
      (type: string, o: k8s.V1Deployment) => events.push({ type, gen: o.metadata?.generation, observed: o.status?.observedGeneration }),
      () => undefined,
    )
    await until(
      'replayed MODIFIED generation 3 before it was observed',
      async () => events.some((e) => e.type === 'MODIFIED' && e.gen === 3 && (e.observed ?? 0) < 3),
      5000,
    )
    ctl.abort()
    expect(events.some((e) => e.type === 'ADDED')).toBe(false) // resumed, not a fresh list
  })

  test('a JSON patch on 2 replicas rolls both pods while availability never drops below 2 (maxUnavailable 0)', async () => {
    const apps = kube.kc.makeApiClient(k8s.AppsV1Api)
    const available: number[] = []
    const ctl = await new k8s.Watch(kube.kc).watch(
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      { fieldSelector: 'metadata.name=multi' },
      (_t: string, o: k8s.V1Deployment) => available.push(o.status?.availableReplicas ?? 0),
      () => undefined,
    )
    await apps.patchNamespacedDeployment(
      { name: 'multi', namespace: NS, body: [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'web:2' }] },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    )
    expect((await kube.waitForRollout('multi', { timeoutMs: 30_000 })).done).toBe(true)
    ctl.abort()
    expect(available.length).toBeGreaterThan(2)
    expect(Math.min(...available)).toBeGreaterThanOrEqual(2)
    const pods = await kube.listPods('app=multi')
    expect(pods.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.spec?.containers[0].image)).toEqual(['web:2', 'web:2'])
  })

  test('a crash-looping pendingUpdate ends in ProgressDeadlineExceeded while the old pod keeps serving', async () => {
    const r = await kube.waitForRollout('stuck', { timeoutMs: 20_000 })
    expect(r).toMatchObject({ done: false, error: 'deployment "stuck" exceeded its progress deadline' })
    const d = await kube.readDeployment('stuck')
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    })
    expect(d.status?.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'True' })
    const pods = await kube.listPods('app=stuck')
    const broken = pods.find((p) => p.spec?.containers?.[0]?.image === 'web:broken')
    expect(broken?.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? 'CrashLoopBackOff').toBe('CrashLoopBackOff')
    const old = pods.find((p) => p.spec?.containers?.[0]?.image === 'web:1')
    expect(old && isPodReady(old)).toBe(true)
    const pf = await kube.portForward({ pod: old?.metadata?.name }, 8080)
    expect(await (await fetch(pf.localUrl + '/x')).text()).toMatch(/^hello from stuck-/)
    pf.close()
  })

  test('a rollout wait on a missing deployment is a not-found access error at once', async () => {
    const err = await kube.waitForRollout('nope', { timeoutMs: 10_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KubeAccessError)
    expect(classifyKubeError(err)).toMatchObject({ kind: 'not-found', code: 404, isNamespace: false })
    expect((err as Error).message).toContain('deployments.apps "nope" not found')
  })
})

describe('port-forward (v4.channel.k8s.io)', () => {
  test('to a service: its Ready pod, targetPort resolved, HTTP round trip', async () => {
    const pf = await kube.portForward({ service: 'web' }, 80)
    const res = await fetch(pf.localUrl + '/svc')
    pf.close()
    expect(await res.text()).toMatch(/^hello from web-[a-z0-9]+-[a-z0-9]{5} hi there$/)
  })
  test('a port the pod does not serve: the tunnel is closed with an error, no hang', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const pf = await kube.portForward({ pod }, 9999)
    await expect(fetch(pf.localUrl + '/', { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    pf.close()
  })
})

describe('access failures are classified and name the server', () => {
  test('a missing namespace is a 404 naming it', async () => {
    const err = await kube.readNamespace('nope').catch((e: unknown) => e)
    expect(classifyKubeError(err)).toMatchObject({ kind: 'not-found', isNamespace: true, code: 404 })
    expect((err as Error).message).toContain('namespaces "nope" not found')
  })
  test('a bad token is 401, the message names the server and never the token', async () => {
    const token = 'wrong-token-0123456789abcdef'
    const err = await kubeWith(token)
      .listPods()
      .catch((e: unknown) => e)
    const c = classifyKubeError(err)
    expect(c.kind).toBe('unauthorized')
    expect(c.message).toContain(sim.url)
    expect(c.message).not.toContain(token)
  })
  test('a token without create on pods/exec: 403 on exec (as on 1.31+ API servers), reads still work', async () => {
    const k = kubeWith(READER)
    expect((await k.listPods('app=web')).length).toBe(1)
    const err = await k.execInPod({ deployment: 'web', container: 'app', command: ['true'] }).catch((e: unknown) => e)
    expect(classifyKubeError(err)).toMatchObject({ kind: 'forbidden', verb: 'create', resource: 'pods/exec' })
    const svc = await k.readService('web').catch((e: unknown) => e)
    expect(classifyKubeError(svc)).toMatchObject({ kind: 'forbidden', verb: 'get', resource: 'services' })
    expect((svc as Error).message).toContain(
      'services "web" is forbidden: User "reader" cannot get resource "services" in API group "" in the namespace "txlookup"',
    )
  })
  test('tokens file hot reload: a token appears, is rebound to other rules, and disappears without a restart', async () => {
    const token = 'rebound-token-0123456789abcdef'
    let mtime = Date.now() / 1000
    const bind = (defs: unknown[]) => {
      writeFileSync(tokensFile, JSON.stringify(defs))
      mtime += 5 // a distinct mtime for every write, even within one clock tick
      utimesSync(tokensFile, mtime, mtime)
    }
    const k = kubeWith(token)
    expect(classifyKubeError(await k.listPods().catch((e: unknown) => e)).kind).toBe('unauthorized')
    const read = [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] },
    ]
    bind([{ token, user: 'runner', namespace: NS, rules: read }])
    expect((await k.listPods('app=web')).length).toBe(1)
    expect(
      classifyKubeError(await k.execInPod({ deployment: 'web', container: 'app', command: ['true'] }).catch((e: unknown) => e)),
    ).toMatchObject({ kind: 'forbidden', verb: 'create', resource: 'pods/exec' })
    bind([
      { token, user: 'runner', namespace: NS, rules: [...read, { apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] }] },
    ])
    expect((await k.execInPod({ deployment: 'web', container: 'app', command: ['sh', '-c', 'exit 3'], timeoutMs: 5000 })).exitCode).toBe(3)
    bind([])
    expect(classifyKubeError(await k.listPods().catch((e: unknown) => e)).kind).toBe('unauthorized')
  })
  test('the refused upgrade carries the real Status body (kubectl prints it after its SPDY fallback)', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const body = await new Promise<{ code: number; json: { reason: string; message: string; code: number } }>((resolve, reject) => {
      const u = new URL(`${sim.url}/api/v1/namespaces/${NS}/pods/${pod}/exec?command=true&stdout=true`)
      request(u, {
        method: 'POST',
        ca: caPem,
        headers: {
          Authorization: `Bearer ${READER}`,
          Connection: 'Upgrade',
          Upgrade: 'SPDY/3.1',
          'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
        },
      })
        .on('response', (res) => {
          let b = ''
          res.on('data', (d: Buffer) => (b += d.toString()))
          res.on('end', () => resolve({ code: res.statusCode ?? 0, json: JSON.parse(b) }))
        })
        .on('upgrade', () => reject(new Error('upgraded')))
        .on('error', reject)
        .end()
    })
    expect(body.code).toBe(403)
    expect(body.json).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message: `pods "${pod}" is forbidden: User "reader" cannot create resource "pods/exec" in API group "" in the namespace "txlookup"`,
    })
  })
  test('nothing listening: unreachable, naming the URL', async () => {
    const url = `https://127.0.0.1:${await freePort()}`
    const c = classifyKubeError(
      await kubeWith(ADMIN, url)
        .listPods()
        .catch((e: unknown) => e),
    )
    expect(c.kind).toBe('unreachable')
    expect(c.message).toContain(url)
  })
  test('a CA that did not sign the server certificate: a tls access error, naming the URL', async () => {
    const other = ensurePki(join(dir, 'other-pki'))
    const c = classifyKubeError(
      await kubeWith(ADMIN, sim.url, readFileSync(other.caCert, 'utf8'))
        .listPods()
        .catch((e: unknown) => e),
    )
    expect(c.kind).toBe('tls')
    expect(c.message).toContain(sim.url)
  })
  test('kubeconfig: a missing file and an unknown context are KubeConfigErrors that say what to do', () => {
    expect(
      classifyKubeError(
        (() => {
          try {
            return loadKubeConfig({ kubeconfig: join(dir, 'absent') })
          } catch (e) {
            return e
          }
        })(),
      ),
    ).toMatchObject({ kind: 'config', message: expect.stringContaining(`kubeconfig ${join(dir, 'absent')} does not exist`) }) // prettier-ignore
    expect(() => loadKubeConfig({ kubeconfig, context: 'nope' })).toThrow(
      /context "nope" is not in the kubeconfig; available: closeout-local/,
    )
  })
})

describe("authorization.k8s.io/v1 self reviews against the simulator's RBAC", () => {
  const review = (token: string, resourceAttributes: k8s.V1ResourceAttributes) =>
    kubeWith(token)
      .kc.makeApiClient(k8s.AuthorizationV1Api)
      .createSelfSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } },
      })
  test("SelfSubjectAccessReview answers from the caller's binding: namespace, group, subresource, cluster scope", async () => {
    expect((await review(READER, { namespace: NS, verb: 'list', resource: 'pods' })).status?.allowed).toBe(true)
    expect(
      (await review(READER, { namespace: NS, verb: 'get', group: 'apps', resource: 'deployments', name: 'web' })).status?.allowed,
    ).toBe(true)
    expect((await review(READER, { namespace: NS, verb: 'create', resource: 'pods', subresource: 'exec' })).status?.allowed).toBe(false)
    expect((await review(READER, { namespace: NS, verb: 'get', resource: 'pods', subresource: 'exec' })).status?.allowed).toBe(true)
    expect((await review(READER, { namespace: 'other', verb: 'list', resource: 'pods' })).status?.allowed).toBe(false)
    expect((await review(READER, { namespace: NS, verb: 'patch', group: 'apps', resource: 'deployments' })).status?.allowed).toBe(false)
    expect((await review(ADMIN, { namespace: NS, verb: 'patch', group: 'apps', resource: 'deployments' })).status?.allowed).toBe(true)
  })
  test("SelfSubjectRulesReview lists the binding's rules in its namespace, and only the basic-user rule elsewhere", async () => {
    const rules = (token: string, namespace: string) =>
      kubeWith(token)
        .kc.makeApiClient(k8s.AuthorizationV1Api)
        .createSelfSubjectRulesReview({
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
        })
    const mine = await rules(READER, NS)
    expect(mine.status?.incomplete).toBe(false)
    expect(mine.status?.resourceRules).toContainEqual({
      apiGroups: ['', 'apps'],
      resources: ['pods', 'pods/exec', 'pods/log', 'deployments', 'namespaces'],
      verbs: ['get', 'list', 'watch'],
    })
    const elsewhere = await rules(READER, 'other')
    expect(elsewhere.status?.resourceRules?.flatMap((r) => r.resources ?? [])).not.toContain('pods')
    expect((await rules(ADMIN, NS)).status?.resourceRules).toContainEqual({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] })
  })
})

describe('exec-credential plugins (the kubelogin path)', () => {
  test('the local plugin prints an ExecCredential whose token the simulator accepts; the client runs it per user', async () => {
    const tokenFile = join(dir, 'exec-token')
    writeFileSync(tokenFile, READER)
    const out = spawnSync(process.execPath, [...execPluginOf(ROOT_DIR, tokenFile).args], { encoding: 'utf8' })
    expect(out.status, out.stderr).toBe(0)
    expect(JSON.parse(out.stdout)).toMatchObject({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1',
      status: { token: READER, expirationTimestamp: expect.stringMatching(/Z$/) },
    })
    const k = new Kube(loadKubeConfig({ kubeconfig: execKubeconfig(execPluginOf(ROOT_DIR, tokenFile)) }), {
      namespace: NS,
      timeoutMs: 5000,
    })
    expect((await k.listPods('app=web')).length).toBe(1)
    // the plugin's identity is the one authorized: the reader may not read services
    expect(classifyKubeError(await k.readService('web').catch((e: unknown) => e))).toMatchObject({
      kind: 'forbidden',
      verb: 'get',
      resource: 'services',
    })
  })
  test.each([
    [
      'fails (exit 1, a message on stderr)',
      ['-c', 'echo "AADSTS700024: Client assertion is not within its valid time range" >&2; exit 1'],
      /AADSTS700024/,
    ],
    ['prints garbage', ['-c', 'echo "<html>login required</html>"'], /printed something that is not/],
  ])('a plugin that %s is an error carrying what the plugin said, never a request without credentials', async (_what, args, said) => {
    const k = new Kube(loadKubeConfig({ kubeconfig: execKubeconfig({ command: 'sh', args }) }), { namespace: NS, timeoutMs: 5000 })
    const err = await k.listPods().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    const c = classifyKubeError(err)
    expect(c.kind).not.toBe('not-found')
    expect(c.message).toMatch(said)
    // the plugin is named, and no request went out without credentials: no 401 from the simulator
    expect(c.message).toMatch(/exec credential plugin `sh -c/)
    expect(c.message).not.toMatch(/\b401\b/)
  })
})

const kubectl = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim()
if (!kubectl) console.log('kubectl is not on PATH: skipping the kubectl checks')
describe.skipIf(!kubectl)('kubectl 1.32 against the simulator', () => {
  // async: the simulator runs in this very process, a blocking spawn would starve it
  const run = (args: string[], o: { input?: string; kubeconfig?: string } = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn('kubectl', ['-n', NS, ...args], {
        env: { ...process.env, KUBECONFIG: o.kubeconfig ?? kubeconfig, KUBECACHEDIR: join(dir, 'kubecache') },
        timeout: 60_000,
      })
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      c.stdin.end(o.input ?? '')
      c.on('close', (status) => resolve({ status, stdout, stderr }))
    })
  test('get deploy / get pods print the server-side columns', async () => {
    const d = await run(['get', 'deploy'])
    expect(d.status, d.stderr).toBe(0)
    expect(d.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\n/)
    expect(d.stdout).toMatch(/^web\s+1\/1\s+1\s+1\s+\d+[smh]/m)
    const p = await run(['get', 'pods', '-l', 'app=stuck'])
    expect(p.stdout).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/)
    expect(p.stdout).toMatch(/^stuck-[a-z0-9]+-[a-z0-9]{5}\s+0\/1\s+CrashLoopBackOff\s+\d+/m)
    expect(p.stdout).toMatch(/^stuck-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s/m)
  })
  test("exec -- sh -c 'exit 3' returns 3; -i passes stdin; a missing binary is 127", async () => {
    const e = await run(['exec', 'deploy/web', '--', 'sh', '-c', 'echo hi; exit 3'])
    expect(e.status).toBe(3)
    expect(e.stdout).toBe('hi\n')
    expect(e.stderr).toContain('command terminated with exit code 3')
    const i = await run(['exec', '-i', 'deploy/web', '--', 'tr', 'a-z', 'A-Z'], { input: 'shout\n' })
    expect(i).toMatchObject({ status: 0, stdout: 'SHOUT\n' })
    expect((await run(['exec', 'deploy/web', '--', 'no-such-binary'])).status).toBe(127)
  })
  test('exec without create on pods/exec: Forbidden from the SPDY fallback, rc 1', async () => {
    const r = await run(['exec', 'deploy/web', '--', 'true'], { kubeconfig: kubeconfigWith(READER) })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('cannot create resource "pods/exec" in API group "" in the namespace "txlookup"')
  })
  test("auth can-i and can-i --list answer from the simulator's RBAC", async () => {
    const reader = kubeconfigWith(READER)
    const first = await run(['auth', 'can-i', 'list', 'pods'], { kubeconfig: reader })
    expect(first, first.stderr).toMatchObject({ status: 0, stdout: 'yes\n' })
    expect(await run(['auth', 'can-i', 'get', 'deploy/web'], { kubeconfig: reader })).toMatchObject({ status: 0, stdout: 'yes\n' })
    expect(await run(['auth', 'can-i', 'create', 'pods', '--subresource=exec'], { kubeconfig: reader })).toMatchObject({
      status: 1,
      stdout: 'no\n',
    })
    expect(await run(['auth', 'can-i', 'patch', 'deployments.apps'], { kubeconfig: reader })).toMatchObject({ status: 1, stdout: 'no\n' })
    expect(await run(['auth', 'can-i', 'patch', 'deployments.apps'])).toMatchObject({ status: 0, stdout: 'yes\n' })
    const l = await run(['auth', 'can-i', '--list'], { kubeconfig: reader })
    expect(l.status, l.stderr).toBe(0)
    expect(l.stdout).toMatch(/^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m)
    expect(l.stdout).toMatch(/^deployments\.apps\s+\[\]\s+\[\]\s+\[get list watch\]$/m)
  })
  test('a kubeconfig with the exec-credential plugin: kubectl runs it and is authorized as its token', async () => {
    const tokenFile = join(dir, 'exec-token-kubectl')
    writeFileSync(tokenFile, READER)
    const kc = execKubeconfig(execPluginOf(ROOT_DIR, tokenFile))
    const ok = await run(['get', 'pods', '-l', 'app=web', '-o', 'name'], { kubeconfig: kc })
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^pod\/web-/)
    expect((await run(['auth', 'can-i', 'get', 'services'], { kubeconfig: kc })).stdout).toBe('no\n')
    const bad = await run(['get', 'pods'], { kubeconfig: execKubeconfig({ command: 'sh', args: ['-c', 'echo nope >&2; exit 1'] }) })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain('getting credentials: exec: executable sh failed with exit code 1')
  })
  test('port-forward is the one kubectl command the simulator refuses (SPDY), with a message that says so', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const r = await run(['port-forward', `pod/${pod}`, `${await freePort()}:8080`])
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain('SPDY streaming is not supported by this simulator')
  })
  test('logs --tail', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const r = await run(['logs', pod, '--tail=1'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(await kube.podLogs(pod, 'app', { tailLines: 1 }))
  })
  test('set image then rollout status; rollout undo reuses the old ReplicaSet; a stuck rollout fails like on a real cluster', async () => {
    expect((await run(['set', 'image', 'deploy/web', 'app=web:3'])).status).toBe(0)
    const r = await run(['rollout', 'status', 'deploy/web', '--timeout=30s'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('deployment "web" successfully rolled out')
    // undo goes back to the previous ReplicaSet (kubectl sends its template back through Go structs)
    const apps = kube.kc.makeApiClient(k8s.AppsV1Api)
    const rsCount = async () => (await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' })).items.length
    const before = await rsCount()
    const revisions = async (): Promise<Record<string, Record<string, string>>> =>
      Object.fromEntries(
        (await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=web' })).items.map((x) => [
          x.metadata?.name,
          x.metadata?.annotations ?? {},
        ]),
      )
    const revs = await revisions()
    const byRev = Object.entries(revs).sort(
      ([, a], [, b]) => Number(b['deployment.kubernetes.io/revision']) - Number(a['deployment.kubernetes.io/revision']),
    )
    const [reused, reusedAnn] = byRev[1] // the previous revision, the one undo goes back to
    const top = Number(byRev[0][1]['deployment.kubernetes.io/revision'])
    expect((await run(['rollout', 'undo', 'deploy/web'])).status).toBe(0)
    expect((await run(['rollout', 'status', 'deploy/web', '--timeout=30s'])).status).toBe(0)
    expect(await rsCount()).toBe(before)
    expect((await kube.readDeployment('web')).spec?.template.spec?.containers[0].image).toBe('web:2')
    // renumbered as the deployment controller does: the reused ReplicaSet takes revision top+1, its old
    // revision moves to revision-history, and the history lists every revision once
    const after = await revisions()
    expect(after[reused as string]).toMatchObject({
      'deployment.kubernetes.io/revision': String(top + 1),
      'deployment.kubernetes.io/revision-history': reusedAnn['deployment.kubernetes.io/revision'],
    })
    expect((await kube.readDeployment('web')).metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe(String(top + 1))
    const history = await run(['rollout', 'history', 'deploy/web'])
    const listed = [...history.stdout.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1]))
    expect(listed).toEqual(
      Object.values(after)
        .map((a) => Number(a['deployment.kubernetes.io/revision']))
        .sort((a, b) => a - b),
    )
    expect(listed).not.toContain(Number(reusedAnn['deployment.kubernetes.io/revision']))
    const s = await run(['rollout', 'status', 'deploy/stuck', '--timeout=30s'])
    expect(s.status).toBe(1)
    expect(s.stderr).toContain('error: deployment "stuck" exceeded its progress deadline')
  })
})

describe('definition swap and stop', () => {
  test('apply(def) stops the old pods and runs the new definition on the same port', async () => {
    const pod = (await kube.readyPodOf('web')).metadata?.name as string
    const pf = await kube.portForward({ pod }, 8080)
    const pid = Number(await (await fetch(pf.localUrl + '/pid')).text())
    pf.close()
    expect(alive(pid)).toBe(true)
    const next = definition(sim.state.def.podPortRange)
    next.namespaces[0].name = 'other'
    await sim.apply(next)
    expect(alive(pid)).toBe(false)
    expect(classifyKubeError(await kube.readNamespace().catch((e: unknown) => e))).toMatchObject({ kind: 'not-found', isNamespace: true })
    const other = new Kube(kube.kc, { namespace: 'other', timeoutMs: 5000 })
    await until('web Ready in the new definition', async () => (await other.listPods('app=web')).some(isPodReady))
  })
  test('stop() kills every pod process', async () => {
    const other = new Kube(kube.kc, { namespace: 'other', timeoutMs: 5000 })
    const pf = await other.portForward({ deployment: 'web' }, 8080)
    const pid = Number(await (await fetch(pf.localUrl + '/pid')).text())
    pf.close()
    await sim.stop()
    expect(alive(pid)).toBe(false)
    expect(existsSync(join(dir, 'logs', 'requests.log'))).toBe(true)
  })
})

describe('main.ts: the detached process env up spawns', () => {
  test('serves after "simulator listening", reloads its config on SIGHUP, stops its pods on SIGTERM (exit 0)', async () => {
    const pki = ensurePki(join(dir, 'pki'))
    const port = await freePort()
    const marker = `closeout-sim-cli-${Math.random().toString(36).slice(2)}`
    const def = (ns: string): ClusterDefinition => ({
      namespaces: [
        {
          name: ns,
          deployments: [{ name: 'idle', containers: [{ name: 'c', image: 'idle:1', command: ['sh', '-c', `sleep 300; echo ${marker}`] }] }],
          services: [],
          secrets: [],
        },
      ],
      tokens: [{ token: ADMIN, user: 'admin' }],
      path: [],
      podPortRange: [1, 1],
    })
    const config = join(dir, 'cli-cluster.json')
    writeFileSync(config, JSON.stringify(def('first')))
    const main = fileURLToPath(new URL('../../fixtures/local-env/sim/main.ts', import.meta.url))
    const child = spawn(
      process.execPath,
      [
        main,
        '--config',
        config,
        '--port',
        String(port),
        '--key',
        pki.serverKey,
        '--cert',
        pki.serverCert,
        '--log-dir',
        join(dir, 'cli-logs'),
        '--faults',
        'consumer-crashloop',
        '--restart-backoff-ms',
        '200',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    try {
      await until('listening line', async () => out.includes(`simulator listening on https://127.0.0.1:${port}`), 15_000)
      const k = new Kube(loadKubeConfig({ kubeconfig: kubeconfigWith(ADMIN, `https://127.0.0.1:${port}`) }), {
        namespace: 'first',
        timeoutMs: 5000,
      })
      await until('pod of the first definition running', async () => (await k.listPods()).some((p) => p.status?.phase === 'Running'))
      const pgrep = () => spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim()
      expect(pgrep()).not.toBe('')
      writeFileSync(config, JSON.stringify(def('second')))
      child.kill('SIGHUP')
      await until(
        'the second definition served',
        async () => (await new Kube(k.kc, { namespace: 'second', timeoutMs: 5000 }).listPods()).length === 1,
      )
      expect(classifyKubeError(await k.readNamespace().catch((e: unknown) => e))).toMatchObject({ kind: 'not-found', isNamespace: true })
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(pgrep()).toBe('')
      expect(readFileSync(join(dir, 'cli-logs', 'requests.log'), 'utf8')).toContain('faults [consumer-crashloop]')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
