// Classification is one instanceof in one place (helpers/fixtures/classify.ts): every client's
// AccessError keeps its own classification and message (which already ends with the fix); a missing
// Kubernetes object is the gate's own finding; the local-env hint follows the cause.
import { describe, expect, test } from 'vitest'
import { AccessError, type AccessKind } from '../../helpers/access.ts'
import { GateBlocked, GateFailure } from '../../helpers/classification.ts'
import { classifyError, LOCAL_ENV_HINT } from '../../helpers/fixtures/classify.ts'
import { HttpAccessError } from '../../helpers/http.ts'
import { describeHttpStatus } from '../../helpers/kube/errors.ts'
import { KubeAccessError, KubeConfigError, KubeTimeoutError } from '../../helpers/kube.ts'
import { MonitorError } from '../../helpers/monitor.ts'

const local = { localTarget: true }
const remote = { localTarget: false }
const server = 'https://127.0.0.1:6443'

function kubeErr(kind: Exclude<AccessKind, 'config'>, extra: { isNoAnswer?: boolean; isNamespace?: boolean } = {}) {
  return new KubeAccessError({ kind, message: `${kind} at ${server}; do the fix`, fix: 'do the fix', ...extra }, server)
}

describe('classifyError', () => {
  test.each(['unreachable', 'tls', 'unauthorized', 'forbidden', 'server-error', 'rate-limited'] as const)(
    'a kube %s error is ENVIRONMENT_BLOCKED with its own message, the fix not repeated',
    (kind) => {
      const c = classifyError(kubeErr(kind), 'STARTUP_FAILED', remote)
      expect(c.classification).toBe('ENVIRONMENT_BLOCKED')
      expect(c.message).toBe(`${kind} at ${server}; do the fix`)
    },
  )

  test('a missing object is the gate’s own class; a missing namespace is could-not-check', () => {
    const obj = new KubeAccessError(describeHttpStatus(404, { message: 'deployments.apps "x" not found' }, { server }) as never, server)
    expect(classifyError(obj, 'STARTUP_FAILED', local).classification).toBe('STARTUP_FAILED')
    const ns = new KubeAccessError(describeHttpStatus(404, { message: 'namespaces "txlookup" not found' }, { server }) as never, server)
    expect(ns.isNamespace).toBe(true)
    expect(classifyError(ns, 'STARTUP_FAILED', local).classification).toBe('ENVIRONMENT_BLOCKED')
  })

  test('monitoring errors are MONITORING_ACCESS_BLOCKED by instanceof (no duck typing)', () => {
    const e = new MonitorError('forbidden', 'Log Analytics answered 403; grant Log Analytics Reader')
    expect('monitor' in e).toBe(false)
    expect(classifyError(e, 'FRESHNESS_SLO_BREACHED', local)).toEqual({
      classification: 'MONITORING_ACCESS_BLOCKED',
      message: 'Log Analytics answered 403; grant Log Analytics Reader',
    })
  })

  test('an API that could not be reached is ENVIRONMENT_BLOCKED, not the smoke’s class', () => {
    const e = new HttpAccessError('http://127.0.0.1:1/tx/1', 'ECONNREFUSED', 'connection refused by 127.0.0.1:1 — start the API')
    const c = classifyError(e, 'SMOKE_FAILED', local)
    expect(c.classification).toBe('ENVIRONMENT_BLOCKED')
    expect(c.message.endsWith(LOCAL_ENV_HINT)).toBe(true)
  })

  test('the local-env hint only for a local profile and a server that gave no answer', () => {
    expect(classifyError(kubeErr('unreachable', { isNoAnswer: true }), 'X' as never, local).message).toContain(LOCAL_ENV_HINT)
    expect(classifyError(new KubeTimeoutError(`no answer from ${server}`, server), 'X' as never, local).message).toContain(LOCAL_ENV_HINT)
    expect(classifyError(kubeErr('unreachable', { isNoAnswer: true }), 'X' as never, remote).message).not.toContain(LOCAL_ENV_HINT)
    expect(classifyError(kubeErr('tls'), 'X' as never, local).message).not.toContain(LOCAL_ENV_HINT)
    expect(classifyError(kubeErr('unauthorized'), 'X' as never, local).message).not.toContain(LOCAL_ENV_HINT)
    expect(classifyError(new KubeConfigError('no kubeconfig at /x; set kube.kubeconfig'), 'X' as never, local).message).not.toContain(
      LOCAL_ENV_HINT,
    )
  })

  test('any other AccessError keeps its classification; gate errors and plain errors', () => {
    const a = new AccessError({ kind: 'server-error', where: 'x', message: 'x answered 502; retry', fix: 'retry' })
    expect(classifyError(a, 'SMOKE_FAILED', remote).classification).toBe('ENVIRONMENT_BLOCKED')
    expect(classifyError(new GateBlocked('needs X', 'ENVIRONMENT_BLOCKED'), 'SMOKE_FAILED', remote).classification).toBe(
      'ENVIRONMENT_BLOCKED',
    )
    expect(classifyError(new GateFailure('wrong status'), 'SMOKE_FAILED', remote).classification).toBe('SMOKE_FAILED')
    expect(classifyError(new Error('boom ECONNREFUSED'), 'SMOKE_FAILED', local).classification).toBe('SMOKE_FAILED')
  })
})
