// The kube layer's contracts without a cluster: kubectl lines built from the call really made, the
// observer view, the read-only view without mutating methods, and one AccessError per cause.

import { createServer, type Server } from 'node:http'
import * as k8s from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AccessError, type CallInfo } from '../../helpers/access.ts'
import {
  classifyKubeError,
  Kube,
  KubeAccessError,
  KubeConfigError,
  KubeTimeoutError,
  kubectlExecLine,
  kubectlLine,
  parseStatusFrame,
  shellQuote,
} from '../../helpers/kube.ts'

describe('kubectl lines', () => {
  test('shell quoting: bare when safe, single quotes otherwise, embedded quotes escaped', () => {
    expect(shellQuote('app=web')).toBe('app=web')
    expect(shellQuote('')).toBe("''")
    expect(shellQuote('print("hi")')).toBe(`'print("hi")'`)
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
  })
  test('get / list / logs / patch / create / raw', () => {
    expect(kubectlLine({ verb: 'get', resource: 'deployments', namespace: 'txlookup', name: 'txlookup-consumer' })).toBe(
      'kubectl -n txlookup get deploy txlookup-consumer -o json',
    )
    expect(kubectlLine({ verb: 'get', resource: 'namespaces', namespace: 'txlookup', name: 'txlookup' })).toBe(
      'kubectl get namespace txlookup -o json',
    )
    expect(kubectlLine({ verb: 'list', resource: 'pods', namespace: 'txlookup', labelSelector: 'app=web,tier in (a, b)' })).toBe(
      `kubectl -n txlookup get pods -l 'app=web,tier in (a, b)' -o json`,
    )
    expect(kubectlLine({ verb: 'list', resource: 'pods', namespace: 'txlookup', allNamespaces: true })).toBe('kubectl get pods -A -o json')
    expect(
      kubectlLine({
        verb: 'logs',
        resource: 'pods',
        namespace: 'ns',
        name: 'p-1',
        logs: { container: 'api', tailLines: 50, previous: true },
      }),
    ).toBe('kubectl -n ns logs p-1 -c api --tail=50 --previous')
    expect(
      kubectlLine({
        verb: 'patch',
        resource: 'deployments',
        namespace: 'ns',
        name: 'web',
        patch: { type: 'strategic', body: { spec: { replicas: 2 } } },
      }),
    ).toBe(`kubectl -n ns patch deploy web --type strategic -p '{"spec":{"replicas":2}}'`)
    expect(kubectlLine({ verb: 'create', resource: 'deployments', namespace: 'ns', body: { kind: 'Deployment' } })).toBe(
      `echo '{"kind":"Deployment"}' | kubectl -n ns create -f -`,
    )
    expect(kubectlLine({ verb: 'raw', resource: 'version', path: '/version' })).toBe('kubectl get --raw /version')
  })
  test('exec: pod, container, -i with stdin, the command quoted for a shell', () => {
    expect(
      kubectlExecLine({ namespace: 'txlookup', pod: 'x', container: 'consumer', command: ['python', '-c', "import sys; print('ok')"] }),
    ).toBe(`kubectl -n txlookup exec pod/x -c consumer -- python -c 'import sys; print('\\''ok'\\'')'`)
    expect(
      kubectlExecLine({ namespace: 'n', pod: 'p', container: 'c', command: ['sh', '-c', 'cat > "$1"', 'sh', '/tmp/f'], stdin: true }),
    ).toBe(`kubectl -n n exec -i pod/p -c c -- sh -c 'cat > "$1"' sh /tmp/f`)
  })
})

describe('observe(), readOnly() and mutations() against a tiny API server', () => {
  let server: Server
  let kc: k8s.KubeConfig
  const seen: string[] = []
  beforeAll(async () => {
    server = createServer((q, s) => {
      seen.push(`${q.method} ${q.url}`)
      s.writeHead(200, { 'content-type': 'application/json' })
      if (q.url?.includes('/pods'))
        return s.end(JSON.stringify({ kind: 'PodList', metadata: {}, items: [{ metadata: { name: 'web-1' } }] }))
      s.end(
        JSON.stringify({ kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web', creationTimestamp: '2026-01-01T00:00:00Z' } }),
      )
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    kc = new k8s.KubeConfig()
    const port = (server.address() as { port: number }).port
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    })
  })
  afterAll(() => new Promise((r) => server.close(r)))

  test('every call of an observed view is reported with the kubectl line of the request it sent', async () => {
    const calls: CallInfo[] = []
    const kube = new Kube(kc, { namespace: 'txlookup' })
    const view = kube.observe((c) => calls.push(c))
    const d = await view.readDeployment('txlookup-consumer')
    expect(d.metadata?.creationTimestamp).toBeInstanceOf(Date) // deserialized like the typed API
    await view.listPods('app=web')
    await kube.readDeployment('unobserved')
    expect(calls.slice(0, 2)).toEqual([
      {
        kind: 'k8s',
        command: 'kubectl -n txlookup get deploy txlookup-consumer -o json',
        target: 'context=ctx namespace=txlookup',
        status: 200,
      },
      { kind: 'k8s', command: 'kubectl -n txlookup get pods -l app=web -o json', target: 'context=ctx namespace=txlookup', status: 200 },
    ])
    expect(seen.slice(-3)).toEqual([
      'GET /apis/apps/v1/namespaces/txlookup/deployments/txlookup-consumer',
      'GET /api/v1/namespaces/txlookup/pods?labelSelector=app%3Dweb',
      'GET /apis/apps/v1/namespaces/txlookup/deployments/unobserved',
    ])
    expect(view.shared).toBe(kube.shared) // same transport, caches, forwards
    const quick = view.withTimeout(1234)
    expect([quick.timeoutMs, quick.shared === kube.shared]).toEqual([1234, true])
    await quick.readDeployment('quick')
    expect(calls).toHaveLength(3) // still observed
    kube.close()
  })
  test('a read-only view has no mutating method; mutations() reports its patch line', async () => {
    const calls: CallInfo[] = []
    const kube = new Kube(kc, { namespace: 'ns' }).observe((c) => calls.push(c))
    const ro = kube.readOnly() as unknown as Record<string, unknown>
    for (const m of ['mutations', 'setContainerImage', 'patchDeployment', 'createDeployment']) expect(ro[m]).toBeUndefined()
    await kube.mutations().setContainerImage('web', 'app', 'img:2')
    await kube.mutations().restartDeployment('web', new Date('2026-01-01T00:00:00Z'))
    await kube.mutations().scaleDeployment('web', 3)
    expect(calls.map((c) => c.command)).toEqual([
      `kubectl -n ns patch deploy web --type strategic -p '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"img:2"}]}}}}'`,
      'kubectl -n ns rollout restart deploy/web',
      'kubectl -n ns scale deploy/web --replicas=3',
    ])
    expect(seen.slice(-1)[0]).toBe('PATCH /apis/apps/v1/namespaces/ns/deployments/web/scale')
    kube.close()
  })
  test('a pooled connection the server drops as the next request arrives is retried for a GET, never for a create', async () => {
    // like a server's keep-alive timeout firing while the client was busy (a spawnSync): the reused socket ends
    const perSocket = new WeakMap<object, number>()
    const flaky = createServer((q, s) => {
      const n = (perSocket.get(q.socket) ?? 0) + 1
      perSocket.set(q.socket, n)
      if (n > 1) return q.socket.destroy()
      s.writeHead(200, { 'content-type': 'application/json' })
      s.end(JSON.stringify({ kind: 'Deployment', metadata: { name: 'web' } }))
    })
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r))
    const fk = new k8s.KubeConfig()
    fk.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(flaky.address() as { port: number }).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    })
    const kube = new Kube(fk, { namespace: 'ns' })
    try {
      const idle = () => new Promise((r) => setTimeout(r, 20)) // the socket is back in the pool
      await kube.readDeployment('web')
      await idle()
      await expect(kube.readDeployment('web')).resolves.toMatchObject({ metadata: { name: 'web' } })
      await idle()
      await expect(kube.readDeployment('web')).resolves.toMatchObject({ metadata: { name: 'web' } })
      await idle()
      await expect(kube.mutations().createDeployment({ metadata: { name: 'web' } })).rejects.toBeInstanceOf(AccessError)
    } finally {
      kube.close()
      await new Promise((r) => flaky.close(r))
    }
  })
  test('an observer that throws does not change the call', async () => {
    const kube = new Kube(kc, { namespace: 'ns' }).observe(() => {
      throw new Error('observer broke')
    })
    await expect(kube.readDeployment('web')).resolves.toMatchObject({ metadata: { name: 'web' } })
    kube.close()
  })
})

describe('one AccessError per cause, classified by one instanceof', () => {
  const ctx = { server: 'https://aks.example:443', namespace: 'txlookup', what: 'get deployment web in txlookup' }
  const kindOf = (e: unknown) => classifyKubeError(e, ctx)
  test('HTTP statuses: 401, 403 with the Role rule, 404 namespace vs object, 429, 5xx, other', () => {
    const api = (code: number, message?: string) =>
      new k8s.ApiException(code, 'x', (message ? JSON.stringify({ message }) : undefined) as never, {})
    expect(kindOf(api(401)).kind).toBe('unauthorized')
    const f = kindOf(
      api(
        403,
        'deployments.apps "web" is forbidden: User "u" cannot patch resource "deployments" in API group "apps" in the namespace "txlookup"',
      ),
    )
    expect(f).toMatchObject({ kind: 'forbidden', verb: 'patch', resource: 'deployments' })
    expect(f.fix).toContain('- apiGroups: ["apps"]  resources: ["deployments"]  verbs: ["patch"]')
    expect(kindOf(api(404, 'namespaces "txlookup" not found'))).toMatchObject({ kind: 'not-found', isNamespace: true })
    expect(kindOf(api(404, 'deployments.apps "web" not found'))).toMatchObject({ kind: 'not-found', isNamespace: false })
    expect(kindOf(api(429)).kind).toBe('rate-limited')
    expect(kindOf(api(503, 'etcdserver: leader changed'))).toMatchObject({
      kind: 'server-error',
      message: expect.stringContaining('"etcdserver: leader changed"'),
    })
    expect(kindOf(api(409, 'conflict')).kind).toBe('other') // the call's own error, not "could not check"
  })
  test('network causes each get their own hint; only no-answer causes are flagged isNoAnswer', () => {
    const net = (code: string, message = code) =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) })
    expect(kindOf(net('ECONNREFUSED'))).toMatchObject({
      kind: 'unreachable',
      isNoAnswer: true,
      message: expect.stringContaining('connection refused by aks.example ('),
    })
    expect(kindOf(net('ENOTFOUND', 'getaddrinfo ENOTFOUND aks.example'))).toMatchObject({
      kind: 'unreachable',
      message: expect.stringContaining('cannot resolve aks.example (DNS)'),
    })
    expect(kindOf(net('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'))).toMatchObject({ kind: 'tls' })
    expect(kindOf(net('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"))).toMatchObject({
      kind: 'tls',
      fix: expect.stringContaining('tls-server-name'),
    })
    expect(kindOf(net('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).isNoAnswer).toBeFalsy()
    for (const m of Object.values({
      refused: kindOf(net('ECONNREFUSED')),
      dns: kindOf(net('ENOTFOUND')),
      tls: kindOf(net('SELF_SIGNED_CERT_IN_CHAIN')),
    }))
      expect(m.message).not.toMatch(/local environment/)
  })
  test('every kube error is an AccessError, ENVIRONMENT_BLOCKED', () => {
    for (const e of [
      new KubeAccessError({ kind: 'forbidden', message: 'm', fix: 'f' }, 's'),
      new KubeTimeoutError('no answer', 's'),
      new KubeConfigError('no kubeconfig'),
    ]) {
      expect(e).toBeInstanceOf(AccessError)
      expect(e.classification).toBe('ENVIRONMENT_BLOCKED')
    }
  })
  test('status frames are validated before use', () => {
    expect(parseStatusFrame(Buffer.from('{"metadata":{},"status":"Success"}'))).toEqual({ metadata: {}, status: 'Success' })
    for (const bad of ['{"metadata":{},"status":', '"Success"', '{"status":"Maybe"}', '{"status":"Failure","details":{"causes":"x"}}', ''])
      expect(parseStatusFrame(Buffer.from(bad))).toBeUndefined()
  })
})
