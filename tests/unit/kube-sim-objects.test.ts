// The simulator's patch flavours and selectors, as kubectl and client-node send them.
import { describe, expect, test } from 'vitest'
import { jsonPatch, matchesFields, matchesLabels, mergePatch, strategicMerge } from '../../fixtures/local-env/sim/objects.ts'
import { decodeSelfReview, isProtobuf } from '../../fixtures/local-env/sim/protobuf.ts'
import { canDo, reviewAccess } from '../../fixtures/local-env/sim/rbac.ts'
import { forbiddenMessage, routeOf } from '../../fixtures/local-env/sim/server.ts'
import { humanDuration } from '../../fixtures/local-env/sim/tables.ts'

const dep = {
  spec: {
    template: {
      spec: {
        containers: [
          { name: 'api', image: 'a:1', env: [{ name: 'A', value: '1' }] },
          { name: 'side', image: 's:1' },
        ],
      },
    },
  },
}

describe('patches', () => {
  test('strategic merge: containers and env merge by name, $setElementOrder is tolerated, $patch delete removes', () => {
    const p = {
      spec: {
        template: {
          spec: {
            $setElementOrder: { containers: [{ name: 'api' }, { name: 'side' }] },
            containers: [
              { name: 'api', image: 'a:2', env: [{ name: 'B', value: '2' }] },
              { name: 'side', $patch: 'delete' },
            ],
          },
        },
      },
    }
    expect(strategicMerge(dep, p)).toEqual({
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'api',
                image: 'a:2',
                env: [
                  { name: 'A', value: '1' },
                  { name: 'B', value: '2' },
                ],
              },
            ],
          },
        },
      },
    })
  })
  test('merge patch replaces lists and deletes with null; JSON patch addresses by index', () => {
    expect(mergePatch(dep, { spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }] } } } })).toEqual({
      spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }] } } },
    })
    expect(
      jsonPatch(dep, [{ op: 'replace', path: '/spec/template/spec/containers/1/image', value: 's:2' }]).spec.template.spec.containers[1]
        .image,
    ).toBe('s:2')
    expect(() => jsonPatch(dep, [{ op: 'test', path: '/spec/template/spec/containers/0/image', value: 'nope' }])).toThrow(/test failed/)
  })
})

describe('selectors', () => {
  const l = { app: 'web', tier: 'api' }
  test.each([
    ['app=web', true],
    ['app==web,tier=api', true],
    ['app!=web', false],
    ['tier', true],
    ['!tier', false],
    ['app in (web, db)', true],
    ['app notin (web)', false],
    ['app in (db),tier', false],
  ])('%s → %s', (sel, want) => expect(matchesLabels(l, sel)).toBe(want))
  test('field selectors on dotted paths', () => {
    expect(matchesFields({ metadata: { name: 'web' }, status: { phase: 'Running' } }, 'metadata.name=web,status.phase!=Pending')).toBe(true)
    expect(matchesFields({ metadata: { name: 'web' } }, 'metadata.name=db')).toBe(false)
  })
})

describe('API server wording', () => {
  test('routes map to verb/resource/subresource like RequestInfo', () => {
    expect(routeOf('GET', '/apis/apps/v1/namespaces/ns/deployments', new URLSearchParams('watch=true'))).toMatchObject({
      verb: 'watch',
      group: 'apps',
      resource: 'deployments',
      namespace: 'ns',
    })
    expect(routeOf('POST', '/api/v1/namespaces/ns/pods/p/exec', new URLSearchParams())).toMatchObject({
      verb: 'create',
      resource: 'pods',
      sub: 'exec',
      name: 'p',
    })
    expect(routeOf('GET', '/api/v1/namespaces/ns', new URLSearchParams())).toMatchObject({
      verb: 'get',
      resource: 'namespaces',
      name: 'ns',
    })
  })
  test('forbidden messages qualify the group the way kubectl prints them', () => {
    expect(forbiddenMessage('u', { verb: 'patch', group: 'apps', resource: 'deployments', name: 'web', namespace: 'ns' })).toBe(
      'deployments.apps "web" is forbidden: User "u" cannot patch resource "deployments" in API group "apps" in the namespace "ns"',
    )
    expect(forbiddenMessage('u', { verb: 'list', group: '', resource: 'namespaces' })).toBe(
      'namespaces is forbidden: User "u" cannot list resource "namespaces" in API group "" at the cluster scope',
    )
  })
  test('AGE like duration.HumanDuration', () => {
    expect([5e3, 119e3, 150e3, 600e3, 3 * 3600e3 + 60e3, 9 * 3600e3, 3 * 86400e3 + 3600e3].map(humanDuration)).toEqual([
      '5s',
      '119s',
      '2m30s',
      '10m',
      '3h1m',
      '9h',
      '3d1h',
    ])
  })
})

describe('self reviews', () => {
  const reader = {
    token: 't',
    user: 'reader',
    namespace: 'ns',
    rules: [
      { apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['namespaces'], resourceNames: ['ns'], verbs: ['get'] },
    ],
  }
  test('canDo: a namespaced binding holds in its namespace, cluster-scoped namespace reads by name, basic-user everywhere', () => {
    expect(canDo(reader, { verb: 'list', group: '', resource: 'pods', namespace: 'ns' })).toBe(true)
    expect(canDo(reader, { verb: 'list', group: '', resource: 'pods', namespace: 'other' })).toBe(false)
    expect(canDo(reader, { verb: 'create', group: '', resource: 'pods', sub: 'exec', namespace: 'ns' })).toBe(false)
    expect(canDo(reader, { verb: 'get', group: '', resource: 'namespaces', name: 'ns' })).toBe(true)
    expect(canDo(reader, { verb: 'get', group: '', resource: 'namespaces', name: 'kube-system' })).toBe(false)
    expect(canDo(reader, { verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' })).toBe(true)
  })
  test('a SelfSubjectAccessReview echoes its spec and answers allowed', () => {
    const r = reviewAccess(reader, {
      spec: { resourceAttributes: { namespace: 'ns', verb: 'get', resource: 'pods', subresource: 'exec' } },
    })
    expect(r).toMatchObject({
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      spec: { resourceAttributes: { subresource: 'exec' } },
      status: { allowed: true },
    })
    expect(reviewAccess(reader, { spec: { nonResourceAttributes: { path: '/apis/apps/v1', verb: 'get' } } }).status.allowed).toBe(true)
    expect(reviewAccess(reader, { spec: { nonResourceAttributes: { path: '/metrics', verb: 'get' } } }).status.allowed).toBe(false)
  })
  test("kubectl's protobuf bodies decode to the JSON shape", () => {
    const field = (n: number, v: Buffer | string) => {
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v)
      return Buffer.concat([Buffer.from([(n << 3) | 2, b.length]), b])
    }
    const attrs = Buffer.concat([field(1, 'ns'), field(2, 'create'), field(5, 'pods'), field(6, 'exec')])
    const ssar = Buffer.concat([field(1, Buffer.alloc(0)), field(2, field(1, attrs))])
    const typeMeta = Buffer.concat([field(1, 'authorization.k8s.io/v1'), field(2, 'SelfSubjectAccessReview')])
    const body = Buffer.concat([Buffer.from('k8s\0'), field(1, typeMeta), field(2, ssar), field(3, ''), field(4, '')])
    expect(isProtobuf(body)).toBe(true)
    expect(decodeSelfReview(body)).toEqual({
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      spec: { resourceAttributes: { namespace: 'ns', verb: 'create', resource: 'pods', subresource: 'exec' } },
    })
    const rules = Buffer.concat([
      Buffer.from('k8s\0'),
      field(1, Buffer.concat([field(1, 'authorization.k8s.io/v1'), field(2, 'SelfSubjectRulesReview')])),
      field(2, Buffer.concat([field(1, Buffer.alloc(0)), field(2, field(1, 'ns'))])),
    ])
    expect(decodeSelfReview(rules)).toEqual({
      kind: 'SelfSubjectRulesReview',
      apiVersion: 'authorization.k8s.io/v1',
      spec: { namespace: 'ns' },
    })
    expect(isProtobuf(Buffer.from('{"kind":"x"}'))).toBe(false)
  })
})
