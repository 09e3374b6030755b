// NetworkPolicy and container judgements of the workload-policy gate (helpers/workload-checks.ts).

import type { V1Container, V1Deployment, V1NetworkPolicy } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import {
  cidrWithin,
  containerProblems,
  networkPolicyProblems,
  parseQuantity,
  selectorImplies,
  selectorMatches,
} from '../../helpers/workload-checks.ts'

const API = { app: 'tx-lookup-api' }
const RULES = {
  ingressFrom: [{ podLabels: { app: 'txlookup-gateway' } }],
  egressTo: [{ podLabels: { app: 'txlookup-postgres' } }, { cidr: '10.20.0.0/24' }],
}
const policy = (spec: Record<string, unknown>): V1NetworkPolicy =>
  ({
    metadata: { name: 'np' },
    spec: { podSelector: { matchLabels: API }, policyTypes: ['Ingress', 'Egress'], ...spec },
  }) as V1NetworkPolicy
const egressOk = [{ to: [{ podSelector: { matchLabels: { app: 'txlookup-postgres' } } }, { ipBlock: { cidr: '10.20.0.5/32' } }] }]

describe('networkPolicyProblems', () => {
  test('gateway-only ingress (matchExpressions In) and postgres/CIDR egress pass', () => {
    const p = policy({
      ingress: [{ _from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['txlookup-gateway'] }] } }] }],
      egress: egressOk,
    })
    expect(networkPolicyProblems([p], API, RULES)).toEqual([])
  })
  test('allow-all rules fail in both directions', () => {
    const out = networkPolicyProblems([policy({ ingress: [{}], egress: [{}] })], API, RULES)
    expect(out).toEqual([
      expect.stringMatching(/ingress\[0\] has no from: it allows all sources/),
      expect.stringMatching(/egress\[0\] has no to/),
    ])
  })
  test('a matchExpressions Exists selector is evaluated, not treated as a restriction', () => {
    const p = policy({
      ingress: [{ _from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } }] }],
      egress: egressOk,
    })
    expect(networkPolicyProblems([p], API, RULES).join()).toMatch(/may select pods outside the profile's peers/)
  })
  test('an empty podSelector peer, a namespaceSelector {} and 0.0.0.0/0 fail', () => {
    const p = policy({
      ingress: [{ _from: [{ podSelector: {} }, { namespaceSelector: {} }] }],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
    })
    const out = networkPolicyProblems([p], API, RULES).join('\n')
    expect(out).toMatch(/selects every pod of the namespace/)
    expect(out).toMatch(/selects every namespace/)
    expect(out).toMatch(/ipBlock 0\.0\.0\.0\/0 is not within/)
  })
  test('no Egress in policyTypes means egress is unrestricted', () => {
    const p = policy({ policyTypes: ['Ingress'], ingress: [] })
    expect(networkPolicyProblems([p], API, RULES)).toEqual([expect.stringMatching(/no NetworkPolicy restricts egress/)])
  })
  test('a policy for other pods does not count', () => {
    const p = {
      metadata: { name: 'other' },
      spec: { podSelector: { matchLabels: { app: 'x' } }, policyTypes: ['Ingress'] },
    } as V1NetworkPolicy
    expect(networkPolicyProblems([p], API, RULES)).toEqual(['no NetworkPolicy selects its pods'])
  })
})

describe('selectors, CIDRs, quantities', () => {
  test('selectorMatches evaluates matchExpressions', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['a'] }] }, { app: 'b' })).toBe(true)
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['a'] }] }, { app: 'b' })).toBe(false)
  })
  test('selectorImplies needs the value pinned', () => {
    expect(selectorImplies({ matchExpressions: [{ key: 'app', operator: 'In', values: ['g', 'h'] }] }, { app: 'g' })).toBe(false)
    expect(selectorImplies({ matchLabels: { app: 'g', tier: 'x' } }, { app: 'g' })).toBe(true)
  })
  test('cidrWithin', () => {
    expect(cidrWithin('10.20.0.5/32', '10.20.0.0/24')).toBe(true)
    expect(cidrWithin('10.20.0.0/16', '10.20.0.0/24')).toBe(false)
    expect(cidrWithin('10.21.0.1/32', '10.20.0.0/24')).toBe(false)
  })
  test('parseQuantity', () => {
    expect(parseQuantity('500m')).toBe(0.5)
    expect(parseQuantity('2')).toBe(2)
    expect(parseQuantity('1Gi')).toBe(2 ** 30)
    expect(parseQuantity('1G')).toBeLessThan(parseQuantity('1Gi') ?? 0)
  })
})

describe('containerProblems', () => {
  const floor = { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2000m', memory: '2Gi' }, drainSeconds: 30 }
  const good: V1Container = {
    name: 'api',
    readinessProbe: { httpGet: { path: '/ready', port: 8000 } },
    livenessProbe: { httpGet: { path: '/health', port: 8000 } },
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
    securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
  }
  const dep = (grace = 30) =>
    ({ spec: { template: { spec: { containers: [], terminationGracePeriodSeconds: grace } } } }) as unknown as V1Deployment
  test('the AC values pass', () => expect(containerProblems(dep(), good, floor, { server: true, readyPath: '/ready' })).toEqual([]))
  test('values below the floor, a probe on another path, a short grace period and a writable root fail', () => {
    const c: V1Container = {
      ...good,
      readinessProbe: { httpGet: { path: '/health', port: 8000 } },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '2Gi' } },
      securityContext: { ...good.securityContext, readOnlyRootFilesystem: false },
    }
    const out = containerProblems(dep(10), c, floor, { server: true, readyPath: '/ready' }).join('\n')
    expect(out).toMatch(/readinessProbe is GET \/health, not GET \/ready/)
    expect(out).toMatch(/cpu requests 100m is below the profile's 500m/)
    expect(out).toMatch(/memory requests 128Mi is below the profile's 1Gi/)
    expect(out).toMatch(/no cpu limit/)
    expect(out).toMatch(/terminationGracePeriodSeconds 10 is shorter than the 30 s drain/)
    expect(out).toMatch(/readOnlyRootFilesystem not true/)
  })
})
