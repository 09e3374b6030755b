// The simulator's patch flavours and selectors, as kubectl and client-node send them.
import { describe, test, expect } from 'vitest'
import { strategicMerge, mergePatch, jsonPatch, matchesLabels, matchesFields } from '../../fixtures/local-env/sim/objects.ts'
import { humanDuration } from '../../fixtures/local-env/sim/tables.ts'
import { forbiddenMessage, routeOf } from '../../fixtures/local-env/sim/server.ts'

const dep = { spec: { template: { spec: { containers: [{ name: 'api', image: 'a:1', env: [{ name: 'A', value: '1' }] }, { name: 'side', image: 's:1' }] } } } }

describe('patches', () => {
  test('strategic merge: containers and env merge by name, $setElementOrder is tolerated, $patch delete removes', () => {
    const p = { spec: { template: { spec: { $setElementOrder: { containers: [{ name: 'api' }, { name: 'side' }] }, containers: [{ name: 'api', image: 'a:2', env: [{ name: 'B', value: '2' }] }, { name: 'side', $patch: 'delete' }] } } } }
    expect(strategicMerge(dep, p)).toEqual({ spec: { template: { spec: { containers: [{ name: 'api', image: 'a:2', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] } } } })
  })
  test('merge patch replaces lists and deletes with null; JSON patch addresses by index', () => {
    expect(mergePatch(dep, { spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }] } } } })).toEqual({ spec: { template: { spec: { containers: [{ name: 'x', image: 'x' }] } } } })
    expect(jsonPatch(dep, [{ op: 'replace', path: '/spec/template/spec/containers/1/image', value: 's:2' }]).spec.template.spec.containers[1].image).toBe('s:2')
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
    expect(routeOf('GET', '/apis/apps/v1/namespaces/ns/deployments', new URLSearchParams('watch=true'))).toMatchObject({ verb: 'watch', group: 'apps', resource: 'deployments', namespace: 'ns' })
    expect(routeOf('POST', '/api/v1/namespaces/ns/pods/p/exec', new URLSearchParams())).toMatchObject({ verb: 'create', resource: 'pods', sub: 'exec', name: 'p' })
    expect(routeOf('GET', '/api/v1/namespaces/ns', new URLSearchParams())).toMatchObject({ verb: 'get', resource: 'namespaces', name: 'ns' })
  })
  test('forbidden messages qualify the group the way kubectl prints them', () => {
    expect(forbiddenMessage('u', { verb: 'patch', group: 'apps', resource: 'deployments', name: 'web', namespace: 'ns' })).toBe('deployments.apps "web" is forbidden: User "u" cannot patch resource "deployments" in API group "apps" in the namespace "ns"')
    expect(forbiddenMessage('u', { verb: 'list', group: '', resource: 'namespaces' })).toBe('namespaces is forbidden: User "u" cannot list resource "namespaces" in API group "" at the cluster scope')
  })
  test('AGE like duration.HumanDuration', () => {
    expect([5e3, 119e3, 150e3, 600e3, 3 * 3600e3 + 60e3, 9 * 3600e3, 3 * 86400e3 + 3600e3].map(humanDuration)).toEqual(['5s', '119s', '2m30s', '10m', '3h1m', '9h', '3d1h'])
  })
})
