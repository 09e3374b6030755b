// Canonical payload (DESIGN.md, E2-3 runbook §5.6), byte for byte what the runbook's one-liner prints:
//   d = r.json(); s = dict(d); s.pop("event_time"); s.pop("data_lag_sec")
//   hashlib.sha256(json.dumps(s, sort_keys=True, separators=(",",":")).encode()).hexdigest()
// Python's defaults apply: ensure_ascii (every non-ASCII UTF-16 unit written \uXXXX, so astral
// characters become surrogate pairs), keys sorted by code point, and numbers as json.loads made them:
// an integer lexeme is an exact int (any size), a lexeme with a fraction or exponent is a float that
// json.dumps writes with repr (100.0 stays 100.0, 1e16 becomes 1e+16). JSON.parse loses all of
// that, so bodies are parsed losslessly (the number's lexeme kept) before they are serialized.
import { createHash } from 'node:crypto'

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/** A JSON number as it was written in the body: json.loads decides int or float from the lexeme. */
export class JsonNumber {
  readonly lexeme: string
  constructor(lexeme: string) {
    this.lexeme = lexeme
  }
}

/** A JSON value parsed without loss: numbers keep their lexeme. */
export type LosslessJson = null | boolean | string | JsonNumber | LosslessJson[] | { [k: string]: LosslessJson }

/** The volatile fields the runbook pops (DESIGN.md; api.volatileFields in the profile). */
export const DEFAULT_VOLATILE = ['event_time', 'data_lag_sec'] as const

/** Parse JSON keeping every number's lexeme (JSON.parse's reviver sees the source text, Node ≥ 21). */
export function parseLossless(text: string): LosslessJson {
  return JSON.parse(text, (_key: string, value: unknown, ctx?: { source?: string }) =>
    typeof value === 'number' ? new JsonNumber(ctx?.source ?? String(value)) : value,
  ) as LosslessJson
}

// The plain values HTTP clients hand to specs (JSON.parse) remember the lossless parse of the same body,
// so canonicalJson / canonicalHash / stripVolatile on a response's `json` are exact without the caller
// holding the body text.
const twins = new WeakMap<object, LosslessJson>()

/** Parse a body twice: plain values for the caller, the lossless twin kept for the canonical hash. */
export function parseWithTwin(text: string): Json {
  const plain = JSON.parse(text) as Json
  if (plain !== null && typeof plain === 'object') twins.set(plain, parseLossless(text))
  return plain
}

/** Remove volatile keys at the top level (the runbook pops them from the response dict). */
export function stripVolatile<T extends Json | LosslessJson>(value: T, volatile: readonly string[]): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber) return value
  const strip = <V>(o: { [k: string]: V }) => Object.fromEntries(Object.entries(o).filter(([k]) => !volatile.includes(k)))
  const out = strip(value as { [k: string]: Json | LosslessJson }) as T
  const twin = twins.get(value)
  if (twin && twin !== null && typeof twin === 'object' && !Array.isArray(twin) && !(twin instanceof JsonNumber))
    twins.set(out as object, strip(twin))
  return out
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

const SHORT_ESCAPES: Record<number, string> = { 34: '\\"', 92: '\\\\', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t' }

/** A string as json.dumps writes it with ensure_ascii: printable ASCII as is, the rest \uXXXX
 * (lower-case hex, per UTF-16 unit, so astral characters come out as surrogate pairs, like Python's). */
export function pythonString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i)
    const short = SHORT_ESCAPES[u]
    if (short) out += short
    else if (u >= 0x20 && u <= 0x7e) out += s[i]
    else out += `\\u${u.toString(16).padStart(4, '0')}`
  }
  return `${out}"`
}

/** repr() of a Python float (what json.dumps writes): the shortest round-trip digits, fixed notation
 * for exponents -4 … 16 with at least one fractional digit, else d.ddde±XX. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const sign = x < 0 ? '-' : ''
  const [mant, exp] = Math.abs(x).toExponential().split('e')
  const digits = mant.replace('.', '')
  const decpt = Number(exp) + 1 // value = 0.DIGITS × 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`
  }
  const e = decpt - 1
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
}

/** A number lexeme as json.loads → json.dumps round-trips it. */
export function pythonNumber(lexeme: string): string {
  if (/^-?\d+$/.test(lexeme)) {
    // Python ≥ 3.11 refuses to convert an int of more than 4300 digits (json.loads raises)
    if (lexeme.replace('-', '').length > 4300)
      throw new Error(`a JSON integer of ${lexeme.length} digits: Python's json.loads refuses it (int max_str_digits 4300)`)
    return /^-0+$/.test(lexeme) ? '0' : lexeme
  }
  return pythonFloat(Number(lexeme))
}

/** A plain JS number (no lexeme known): a safe integer as an int, anything else as a Python float. */
function plainNumber(x: number): string {
  return Number.isSafeInteger(x) ? String(x) : pythonFloat(x)
}

function serialize(v: Json | LosslessJson): string {
  if (v === null) return 'null'
  if (v === true) return 'true'
  if (v === false) return 'false'
  if (typeof v === 'number') return plainNumber(v)
  if (typeof v === 'string') return pythonString(v)
  if (v instanceof JsonNumber) return pythonNumber(v.lexeme)
  if (Array.isArray(v)) return `[${(v as (Json | LosslessJson)[]).map(serialize).join(',')}]`
  const o = v as { [k: string]: Json | LosslessJson }
  const keys = Object.keys(o).sort(compareCodePoints)
  return `{${keys.map((k) => `${pythonString(k)}:${serialize(o[k])}`).join(',')}}`
}

/** json.dumps(v, sort_keys=True, separators=(",",":")) with Python's defaults. A value that came from
 * an HTTP body (parseWithTwin) is written from its lossless twin; other plain numbers by the rule above. */
export function canonicalJson(value: Json | LosslessJson): string {
  const twin = value !== null && typeof value === 'object' ? twins.get(value) : undefined
  return serialize(twin ?? value)
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

export function canonicalHash(value: Json | LosslessJson, volatile: readonly string[] = DEFAULT_VOLATILE): string {
  return sha256Hex(Buffer.from(canonicalJson(stripVolatile(value, volatile)), 'utf8'))
}

/** The runbook's canonical payload of a response body: the text to record next to its sha256.
 * Throws when the body is not a JSON object (the runbook's dict(d) fails the same way). */
export function canonicalPayload(
  body: string | Json | LosslessJson,
  volatile: readonly string[] = DEFAULT_VOLATILE,
): { text: string; sha256: string } {
  const value = typeof body === 'string' ? parseLossless(body) : body
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber)
    throw new Error("the payload is not a JSON object, so it has no canonical form (the runbook's dict(d) fails too)")
  const text = canonicalJson(stripVolatile(value, volatile))
  return { text, sha256: sha256Hex(Buffer.from(text, 'utf8')) }
}
