// The simulator held to the Kubernetes schema: every object it serves — single gets, lists, watch
// events, subresources, the authorization reviews, discovery and its error Status bodies (server-side
// Table output aside) — is read raw off the wire and
// - validated by kubernetes-models (the upstream OpenAPI schemas, a maintained package): types, enums,
//   required fields;
// - round-tripped through @kubernetes/client-node's ObjectSerializer (deserialize then serialize, as the
//   typed client does) and compared with what was served: a field the real API does not have is dropped
//   by that round trip, so the comparison names every invented field.
// The kinds checked are listed (KINDS) and the test fails when the simulator serves a kind not listed.

import { mkdtempSync, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js'
import { APIGroupList } from '@kubernetes-models/apimachinery/apis/meta/v1/APIGroupList'
import { APIResourceList } from '@kubernetes-models/apimachinery/apis/meta/v1/APIResourceList'
import { APIVersions } from '@kubernetes-models/apimachinery/apis/meta/v1/APIVersions'
import { Status } from '@kubernetes-models/apimachinery/apis/meta/v1/Status'
import { Deployment, DeploymentList, ReplicaSet, ReplicaSetList } from 'kubernetes-models/apps/v1'
import { SelfSubjectAccessReview, SelfSubjectRulesReview } from 'kubernetes-models/authorization.k8s.io/v1'
import { Scale } from 'kubernetes-models/autoscaling/v1'
import { NetworkPolicy, NetworkPolicyList } from 'kubernetes-models/networking.k8s.io/v1'
import { Event, EventList, Namespace, NamespaceList, Pod, PodList, Secret, SecretList, Service, ServiceList } from 'kubernetes-models/v1'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ensurePki } from '../../fixtures/local-env/sim/pki.ts'
import { type Simulator, startSimulator } from '../../fixtures/local-env/sim/server.ts'
import type { ClusterDefinition } from '../../fixtures/local-env/sim/types.ts'

type Obj = Record<string, unknown>
interface ModelClass {
  new (data: never): { validate(): void }
  apiVersion: string
  kind: string
}

/** kind → the schema model and client-node's type name (what ObjectSerializer knows it as) */
const KINDS: Record<string, [ModelClass, string]> = {
  Namespace: [Namespace, 'V1Namespace'],
  NamespaceList: [NamespaceList, 'V1NamespaceList'],
  Pod: [Pod, 'V1Pod'],
  PodList: [PodList, 'V1PodList'],
  Service: [Service, 'V1Service'],
  ServiceList: [ServiceList, 'V1ServiceList'],
  Secret: [Secret, 'V1Secret'],
  SecretList: [SecretList, 'V1SecretList'],
  Event: [Event, 'CoreV1Event'],
  EventList: [EventList, 'CoreV1EventList'],
  Deployment: [Deployment, 'V1Deployment'],
  DeploymentList: [DeploymentList, 'V1DeploymentList'],
  ReplicaSet: [ReplicaSet, 'V1ReplicaSet'],
  ReplicaSetList: [ReplicaSetList, 'V1ReplicaSetList'],
  NetworkPolicy: [NetworkPolicy, 'V1NetworkPolicy'],
  NetworkPolicyList: [NetworkPolicyList, 'V1NetworkPolicyList'],
  Scale: [Scale, 'V1Scale'],
  SelfSubjectAccessReview: [SelfSubjectAccessReview, 'V1SelfSubjectAccessReview'],
  SelfSubjectRulesReview: [SelfSubjectRulesReview, 'V1SelfSubjectRulesReview'],
  Status: [Status as unknown as ModelClass, 'V1Status'],
  APIResourceList: [APIResourceList as unknown as ModelClass, 'V1APIResourceList'],
  APIGroupList: [APIGroupList as unknown as ModelClass, 'V1APIGroupList'],
  APIVersions: [APIVersions as unknown as ModelClass, 'V1APIVersions'],
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
/** the same JSON, with timestamps in one spelling (the serializer writes milliseconds) */
function normalize(v: unknown): unknown {
  if (typeof v === 'string' && ISO.test(v)) return new Date(v).toISOString()
  if (Array.isArray(v)) return v.map(normalize)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, normalize(x)]))
  return v
}

/** the paths present in a but not in b: what the round trip dropped */
function dropped(a: unknown, b: unknown, path = ''): string[] {
  if (Array.isArray(a)) return a.flatMap((x, i) => dropped(x, Array.isArray(b) ? b[i] : undefined, `${path}[${i}]`))
  if (a && typeof a === 'object') {
    return Object.entries(a as Obj).flatMap(([k, x]) => {
      const other = b && typeof b === 'object' ? (b as Obj)[k] : undefined
      if (other === undefined && x !== undefined) return [`${path}.${k}`]
      return dropped(x, other, `${path}.${k}`)
    })
  }
  return []
}

/** Problems with one served object of `kind` (empty = valid): schema validation, then the round trip. */
function problemsOf(obj: Obj, kind: string, where: string): string[] {
  const entry = KINDS[kind]
  if (!entry) return [`${where}: kind ${kind} is served but not checked here (add it to KINDS)`]
  const [Model, typeName] = entry
  const out: string[] = []
  // the apimachinery models (Status, discovery) carry no kind of their own
  if (Model.kind && obj.kind !== undefined && obj.kind !== Model.kind)
    out.push(`${where}: kind ${String(obj.kind)} where ${Model.kind} is expected`)
  if (Model.apiVersion && obj.apiVersion !== undefined && obj.apiVersion !== Model.apiVersion)
    out.push(`${where}: apiVersion ${String(obj.apiVersion)}, the schema's is ${Model.apiVersion}`)
  try {
    new Model(obj as never).validate()
  } catch (e) {
    out.push(`${where}: schema: ${(e as Error).message}`)
  }
  const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(obj, typeName), typeName) as unknown
  for (const p of dropped(normalize(obj), normalize(back)))
    out.push(`${where}: ${kind}${p} is not a field of the API (dropped by client-node's ${typeName})`)
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'sim-schema-'))
const NS = 'txlookup'
const ADMIN = 'admin-token-schema-0123456789'
const READER = 'reader-token-schema-0123456789'
let sim: Simulator
let ca: string

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

/** one raw request: status, and the JSON body (or, for a watch, the first `events` lines) */
function raw(
  method: string,
  path: string,
  o: { token?: string; body?: unknown; contentType?: string; events?: number } = {},
): Promise<{ code: number; json: Obj; lines: Obj[] }> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body)
    const req = request(
      new URL(path, sim.url),
      {
        method,
        ca,
        headers: {
          Authorization: `Bearer ${o.token ?? ADMIN}`,
          Accept: 'application/json',
          ...(body ? { 'Content-Type': o.contentType ?? 'application/json' } : {}),
        },
      },
      (res) => {
        let text = ''
        res.on('data', (d: Buffer) => {
          text += d.toString()
          const lines = text.split('\n').filter(Boolean)
          if (o.events && lines.length >= o.events) {
            req.destroy()
            resolve({ code: res.statusCode ?? 0, json: {}, lines: lines.map((l) => JSON.parse(l) as Obj) })
          }
        })
        res.on('end', () => {
          if (o.events)
            return resolve({
              code: res.statusCode ?? 0,
              json: {},
              lines: text
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l) as Obj),
            })
          resolve({ code: res.statusCode ?? 0, json: text.trim().startsWith('{') ? (JSON.parse(text) as Obj) : {}, lines: [] })
        })
      },
    )
    req.on('error', (e) => (o.events ? undefined : reject(e)))
    req.end(body)
  })
}

const definition = (range: [number, number]): ClusterDefinition => ({
  namespaces: [
    {
      name: NS,
      deployments: [
        {
          name: 'web',
          containers: [
            {
              name: 'app',
              image: 'web:1',
              command: [process.execPath, '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,'127.0.0.1')"],
              env: { A: 'b' },
              envFromSecrets: ['web-env'],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
              livenessProbe: { tcpSocket: { port: 8080 } },
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
              securityContext: { runAsNonRoot: true, runAsUser: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            },
          ],
        },
        {
          name: 'crash',
          progressDeadlineSeconds: 2,
          containers: [
            { name: 'c', image: 'crash:1', command: ['sh', '-c', 'echo boom; exit 3'], readinessProbe: { exec: { command: ['true'] } } },
          ],
        },
      ],
      services: [{ name: 'web', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }],
      secrets: [{ name: 'web-env', data: { K: 'v' } }],
      networkPolicies: [{ name: 'web', podSelector: { app: 'web' }, policyTypes: ['Ingress', 'Egress'] }],
    },
  ],
  tokens: [
    { token: ADMIN, user: 'admin' },
    { token: READER, user: 'reader', namespace: NS, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
  ],
  path: [],
  podPortRange: range,
})

beforeAll(async () => {
  const pki = ensurePki(join(dir, 'pki'))
  ca = readFileSync(pki.caCert, 'utf8')
  const base = 20_000 + Math.floor(Math.random() * 10_000)
  sim = await startSimulator(definition([base, base + 20]), {
    port: await freePort(),
    tlsKey: pki.serverKey,
    tlsCert: pki.serverCert,
    restartBackoffMs: [100, 200],
  })
  // until every kind of state is there: a Ready pod, a crash-looping one with a last state, a rollout with two ReplicaSets
  const deadline = Date.now() + 30_000
  for (;;) {
    const pods = (await raw('GET', `/api/v1/namespaces/${NS}/pods`)).json.items as Obj[]
    const ready = pods.some((p) => JSON.stringify(p).includes('"ready":true'))
    const crashed = pods.some((p) => JSON.stringify(p).includes('"lastState":{"terminated"'))
    if (ready && crashed) break
    if (Date.now() > deadline) throw new Error('the simulator did not reach a Ready and a crash-looping pod')
    await new Promise((r) => setTimeout(r, 200))
  }
  await raw('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/web`, {
    body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'web:2' }] } } } },
    contentType: 'application/strategic-merge-patch+json',
  })
}, 60_000)

afterAll(async () => {
  await sim?.stop()
})

const COLLECTIONS = [
  ['namespaces', '/api/v1/namespaces'],
  ['pods', `/api/v1/namespaces/${NS}/pods`],
  ['services', `/api/v1/namespaces/${NS}/services`],
  ['secrets', `/api/v1/namespaces/${NS}/secrets`],
  ['events', `/api/v1/namespaces/${NS}/events`],
  ['deployments', `/apis/apps/v1/namespaces/${NS}/deployments`],
  ['replicasets', `/apis/apps/v1/namespaces/${NS}/replicasets`],
  ['networkpolicies', `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`],
  ['pods (all namespaces)', '/api/v1/pods'],
  ['deployments (all namespaces)', '/apis/apps/v1/deployments'],
] as const

describe('every object the simulator serves validates against the Kubernetes schema', () => {
  test.each(COLLECTIONS)('%s: the list, each item and each item fetched on its own', async (_what, path) => {
    const list = (await raw('GET', path)).json
    const problems = problemsOf(list, String(list.kind), `GET ${path}`)
    const items = (list.items ?? []) as Obj[]
    expect(items.length).toBeGreaterThan(0)
    for (const item of items) {
      const meta = item.metadata as { name: string; namespace?: string }
      // the object's own path: <group prefix>[/namespaces/<ns>]/<resource>/<name>
      const resource = path.slice(path.lastIndexOf('/') + 1)
      const prefix = path.includes('/namespaces/') ? path.slice(0, path.indexOf('/namespaces/')) : path.slice(0, path.lastIndexOf('/'))
      const self = `${prefix}${meta.namespace ? `/namespaces/${meta.namespace}` : ''}/${resource}/${meta.name}`
      const one = (await raw('GET', self)).json
      problems.push(...problemsOf(one, String(one.kind), `GET ${self}`))
    }
    expect(problems).toEqual([])
  })

  test.each(COLLECTIONS)('%s: watch events carry schema-valid objects', async (_what, path) => {
    const n = ((await raw('GET', path)).json.items as Obj[]).length
    const { lines } = await raw('GET', `${path}?watch=true`, { events: n })
    expect(lines.length).toBe(n)
    const problems = lines.flatMap((e, i) => {
      if (!['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'].includes(String(e.type)))
        return [`watch ${path} event ${i}: type ${String(e.type)}`]
      const o = e.object as Obj
      return problemsOf(o, String(o.kind), `watch ${path} event ${i} (${String(e.type)})`)
    })
    expect(problems).toEqual([])
  })

  test('subresources, reviews and discovery', async () => {
    const pod = ((await raw('GET', `/api/v1/namespaces/${NS}/pods`)).json.items as Obj[])[0].metadata as { name: string }
    const docs = [
      await raw('GET', `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`),
      await raw('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/web/scale`, {
        body: { spec: { replicas: 1 } },
        contentType: 'application/merge-patch+json',
      }),
      await raw('GET', `/apis/apps/v1/namespaces/${NS}/deployments/web/status`),
      await raw('GET', `/api/v1/namespaces/${NS}/pods/${pod.name}/status`),
      await raw('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        token: READER,
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace: NS, verb: 'list', resource: 'pods' } },
        },
      }),
      await raw('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
        token: READER,
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } },
      }),
      await raw('GET', '/api'),
      await raw('GET', '/apis'),
      ...(await Promise.all(
        ['/api/v1', '/apis/apps/v1', '/apis/networking.k8s.io/v1', '/apis/authorization.k8s.io/v1'].map((p) => raw('GET', p)),
      )),
    ]
    const problems = docs.flatMap((d, i) => problemsOf(d.json, String(d.json.kind), `document ${i} (${String(d.json.kind)})`))
    expect(problems).toEqual([])
  })

  test('error and success Status bodies', async () => {
    const pod = ((await raw('GET', `/api/v1/namespaces/${NS}/pods`)).json.items as Obj[])[0].metadata as { name: string }
    const statuses = [
      await raw('GET', '/api/v1/namespaces/nope'),
      await raw('GET', `/apis/apps/v1/namespaces/${NS}/deployments/nope`),
      await raw('GET', `/api/v1/namespaces/${NS}/services`, { token: READER }),
      await raw('GET', `/api/v1/namespaces/${NS}/pods`, { token: 'nobody' }),
      await raw('GET', `/api/v1/namespaces/${NS}/pods/${pod.name}/log?container=nope`),
      await raw('GET', '/apis/nope.example.com/v1/things'),
      await raw('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/web`, {
        body: { spec: {} },
        contentType: 'application/apply-patch+yaml',
      }),
      await raw('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, {
        body: { metadata: { name: 'web' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'b' }] } } } },
      }),
      await raw('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, { body: { metadata: { name: 'x' }, spec: {} } }),
      await raw('PUT', `/api/v1/namespaces/${NS}/services/web`, { body: {} }),
      await raw('GET', `/api/v1/namespaces/${NS}/pods/${pod.name}/exec?command=true`),
      await raw('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { body: { spec: {} } }),
      await raw('DELETE', `/apis/apps/v1/namespaces/${NS}/deployments/crash`),
    ]
    expect(statuses.map((s) => s.code)).toEqual([404, 404, 403, 401, 400, 404, 415, 409, 422, 405, 400, 422, 200])
    const problems = statuses.flatMap((s, i) => problemsOf(s.json, 'Status', `status ${i} (${s.code})`))
    expect(problems).toEqual([])
  })
})
