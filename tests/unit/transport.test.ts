// helpers/transport.ts, the pure parts: secrets out of URLs, Retry-After, the network cause of an
// error, the retry loop (transient only, bounded, every attempt reported) and the raced deadline.
import { describe, expect, test } from 'vitest'
import { AccessError } from '../../helpers/access.ts'
import {
  type Attempt,
  DeadlineError,
  describeStatus,
  networkCause,
  parseRetryAfter,
  retryTransient,
  safeUrl,
  withDeadline,
} from '../../helpers/transport.ts'

const ctx = { where: 'svc', urlKey: 'svc.url', timeoutKey: 'svc.timeoutMs' }
const err = (kind: 'rate-limited' | 'forbidden') => new AccessError({ kind, where: 'svc', message: `svc: failed — do x`, fix: 'do x' })

describe('transport', () => {
  test('safeUrl drops user:password and every query value that is not known safe', () => {
    expect(safeUrl('https://u:p@st.blob.core.windows.net/c/b?sv=2024&sig=abc%2Bdef&se=x')).toBe(
      'https://st.blob.core.windows.net/c/b?sv=REDACTED&sig=REDACTED&se=REDACTED',
    )
    expect(safeUrl('https://r.example/v2/a/tags/list?n=2&last=b')).toBe('https://r.example/v2/a/tags/list?n=2&last=b')
    expect(safeUrl('https://m.example/x?api-version=2025-08-01&code=secret')).toBe(
      'https://m.example/x?api-version=2025-08-01&code=REDACTED',
    )
    expect(safeUrl('not a url?token=1')).toBe('not a url?…')
  })

  test('Retry-After in seconds or as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000)
    expect(parseRetryAfter('0.5')).toBe(500)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter(undefined)).toBeUndefined()
  })

  test('network causes from undici / node / SDK errors', () => {
    const withCause = (code: string, message = '') =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) })
    expect(networkCause(withCause('ECONNREFUSED')).cause).toBe('refused')
    expect(networkCause(withCause('ENOTFOUND')).cause).toBe('dns')
    expect(networkCause(withCause('ECONNRESET')).cause).toBe('reset')
    expect(networkCause(withCause('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).cause).toBe('tls-untrusted')
    expect(networkCause(withCause('ERR_TLS_CERT_ALTNAME_INVALID')).cause).toBe('tls-hostname')
    expect(networkCause(withCause('CERT_HAS_EXPIRED')).cause).toBe('tls-expired')
    expect(networkCause(Object.assign(new Error('x'), { name: 'RestError', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).cause).toBe(
      'tls-untrusted',
    )
    expect(networkCause(new DeadlineError(5)).cause).toBe('timeout')
  })

  test('every access status has its own fix', () => {
    const fixes = [401, 403, 404, 429, 503].map((s) => describeStatus(s, ctx)?.fix)
    expect(new Set(fixes).size).toBe(5)
    expect(describeStatus(400, ctx)).toBeUndefined()
  })

  test('retryTransient retries transient outcomes within the budget, reports each attempt, stops at a non-transient one', async () => {
    const seen: Attempt[] = []
    let n = 0
    const r = await retryTransient(
      { attempts: 3, baseDelayMs: 1, maxDelayMs: 50 },
      async () =>
        ++n < 3 ? { ok: false, status: 503, transient: true, error: err('rate-limited') } : { ok: true, value: 'v', status: 200 },
      (a) => seen.push(a),
    )
    expect(r.value).toBe('v')
    expect(seen.map((a) => a.status)).toEqual([503, 503, 200])
    let m = 0
    const e = await retryTransient(
      { attempts: 5, baseDelayMs: 1, maxDelayMs: 50 },
      async () => (m++, { ok: false as const, status: 403, transient: false, error: err('forbidden') }),
    ).catch((x: unknown) => x)
    expect(m).toBe(1)
    expect((e as AccessError).kind).toBe('forbidden')
  })

  test('withDeadline ends work that ignores its signal, on time', async () => {
    const e = await withDeadline(50, () => new Promise(() => undefined)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(DeadlineError)
    await expect(withDeadline(1000, async () => 7)).resolves.toBe(7)
  })
})
