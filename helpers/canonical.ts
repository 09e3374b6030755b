// Canonical payload (DESIGN.md, E2-3 runbook §5.6): the response JSON with volatile fields removed,
// keys sorted at every depth, compact separators, UTF-8, sha256 hex. Equivalent to Python's
// json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) on the stripped object.
import { createHash } from 'node:crypto'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** Remove volatile keys at the top level (the runbook pops them from the response dict). */
export function stripVolatile(value: Json, volatile: readonly string[]): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value).filter(([k]) => !volatile.includes(k)))
}

/** Compare by Unicode code point (Python's str order), not UTF-16 code unit (JS's default). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]()
  const ib = b[Symbol.iterator]()
  for (;;) {
    const x = ia.next()
    const y = ib.next()
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1
    const d = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number)
    if (d !== 0) return d
  }
}

/** Deterministic compact JSON, keys sorted by code point at every depth. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const keys = Object.keys(value).sort(compareCodePoints)
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

export function canonicalHash(value: Json, volatile: readonly string[] = ['event_time', 'data_lag_sec']): string {
  return sha256Hex(Buffer.from(canonicalJson(stripVolatile(value, volatile)), 'utf8'))
}
