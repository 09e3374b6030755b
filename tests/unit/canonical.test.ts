// helpers/canonical.ts: the E2-3 §5.6 canonical payload hash byte for byte, compared with python3
// running the runbook's one-liner (json.loads → pop → json.dumps(sort_keys=True, separators=(",",":"))
// → sha256) on the same body text, whenever python3 is on the PATH.

import { spawnSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import {
  canonicalHash,
  canonicalJson,
  canonicalPayload,
  compareCodePoints,
  type Json,
  parseLossless,
  parseWithTwin,
  pythonFloat,
  pythonNumber,
  sha256Hex,
  stripVolatile,
} from '../../helpers/canonical.ts'

// the runbook's one-liner, reading the body from stdin (one body per line) instead of requests.get
const RUNBOOK =
  'import sys,json,hashlib\n' +
  'for line in sys.stdin.read().split("\\n"):\n' +
  '  d=json.loads(line); s=dict(d); s.pop("event_time", None); s.pop("data_lag_sec", None)\n' +
  '  t=json.dumps(s, sort_keys=True, separators=(",",":"))\n' +
  '  print(t); print(hashlib.sha256(t.encode()).hexdigest())'

const hasPython = spawnSync('python3', ['--version']).status === 0

function python(bodies: string[]): { text: string; sha256: string }[] {
  const r = spawnSync('python3', ['-c', RUNBOOK], { input: bodies.join('\n'), encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`)
  const lines = r.stdout.trimEnd().split('\n')
  return bodies.map((_, i) => ({ text: lines[2 * i], sha256: lines[2 * i + 1] }))
}

const VECTORS: Record<string, string> = {
  'float with a fraction stays a float': '{"amount":100.0,"tx_id":"t-1"}',
  'floats: 1.0 0.1 1e16 1e-7 -0.0 5e-324 1E400': '{"a":1.0,"b":0.1,"c":1e16,"d":1e-7,"e":-0.0,"f":5e-324,"g":1E400,"h":-1e400}',
  'float repr boundaries':
    '{"a":1e15,"b":1e16,"c":0.0001,"d":0.00001,"e":123456789.125,"f":1.5e300,"g":2.5e-5,"h":1.7976931348623157e308,"i":1e22,"j":12345678901234567.0}',
  'big and odd integers stay exact': '{"a":123456789012345678901234567890,"b":-0,"c":9007199254740993,"d":-42,"e":0}',
  escapes: '{"e":"q\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\\u00ff ~"}',
  'unicode: BMP, astral (surrogate pair), lone surrogate': '{"u":"Zürich ✓ 결제 💳","lone":"\\ud800x","pair":"\\ud83d\\ude00"}',
  'keys sort by code point (non-ASCII, astral, escaped)': '{"\\ud83d\\ude00":1,"\\uff5e":2,"é":3,"e":4,"E":5,"":6,"a\\u0000":7}',
  'nested objects and lists keep list order, sort keys at every depth':
    '{"z":[3,1,{"b":[{"d":1,"c":2}],"a":null}],"y":{"y2":true,"y1":false},"x":[]}',
  'volatile fields removed at the top level only':
    '{"tx_id":"t","event_time":"2026-01-01T00:00:00Z","data_lag_sec":3,"n":{"event_time":"kept"}}',
  'whitespace and duplicate keys (the last wins)': '{ "a" : 1 , "a" : 2.50 , "b" : [ 1 , 2 ] }',
  'the reference API payload shape':
    '{"tx_id":"tx-seed-001","wallet_id":"wallet-seed-1","entry_type":"PAYMENT","amount":"10.00","amount_value":10.00,"amount_signed":"-10.00","memo":"결제 💳","related_id":"po-seed-001","related_type":"PAYMENT_ORDER","version":1,"event_time":"2026-11-20T10:00:00Z","data_lag_sec":12}',
}

describe('canonical payload: byte for byte the runbook one-liner', () => {
  test.runIf(hasPython)('every vector: canonical text and sha256 equal python3 running the runbook one-liner', () => {
    const names = Object.keys(VECTORS)
    const py = python(names.map((n) => VECTORS[n]))
    names.forEach((n, i) => {
      const c = canonicalPayload(VECTORS[n])
      expect(c.text, n).toBe(py[i].text)
      expect(c.sha256, n).toBe(py[i].sha256)
    })
  })

  test.runIf(hasPython)('500 random doubles written as JS writes them and in exponent form: python3 agrees on every one', () => {
    const bodies: string[] = []
    for (let i = 0; i < 500; i++) {
      const x = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 80 - 40)
      bodies.push(`{"x":${x},"y":${x.toExponential()},"z":${x.toFixed(3)},"w":${Math.round(x)}}`)
    }
    const py = python(bodies)
    bodies.forEach((b, i) => expect(canonicalPayload(b).text, b).toBe(py[i].text))
  })

  test('the numbers Python writes differently from JavaScript (fixed expectations, python3 or not)', () => {
    expect(canonicalPayload('{"amount":100.0}').text).toBe('{"amount":100.0}')
    expect(canonicalPayload('{"a":1e16,"b":1e-7,"c":-0.0,"d":5e-324,"e":123456789012345678901234567890}').text).toBe(
      '{"a":1e+16,"b":1e-07,"c":-0.0,"d":5e-324,"e":123456789012345678901234567890}',
    )
    expect(canonicalPayload('{"u":"Zürich 😀"}').text).toBe('{"u":"Z\\u00fcrich \\ud83d\\ude00"}')
    expect([pythonFloat(1e15), pythonFloat(0.0001), pythonFloat(0.00001), pythonFloat(1.5e300)]).toEqual([
      '1000000000000000.0',
      '0.0001',
      '1e-05',
      '1.5e+300',
    ])
    expect([pythonNumber('-0'), pythonNumber('10.00'), pythonNumber('1E400')]).toEqual(['0', '10.0', 'Infinity'])
  })

  test('a change from 100.0 to 100 changes the hash (JSON.parse would hide it)', () => {
    expect(canonicalPayload('{"amount":100.0}').sha256).not.toBe(canonicalPayload('{"amount":100}').sha256)
    expect(canonicalHash(parseWithTwin('{"amount":100.0}'))).not.toBe(canonicalHash(parseWithTwin('{"amount":100}')))
  })

  test('a response json (parseWithTwin) hashes from its lossless twin through stripVolatile / canonicalJson / canonicalHash', () => {
    const body = '{"tx_id":"t","amount":100.0,"big":1e16,"memo":"결제","event_time":"x","data_lag_sec":1}'
    const json = parseWithTwin(body)
    expect((json as { amount: number }).amount).toBe(100) // specs still see plain numbers
    expect(canonicalJson(stripVolatile(json, ['event_time', 'data_lag_sec']))).toBe(canonicalPayload(body).text)
    expect(canonicalHash(json)).toBe(canonicalPayload(body).sha256)
    expect(canonicalPayload(body).text).toBe('{"amount":100.0,"big":1e+16,"memo":"\\uacb0\\uc81c","tx_id":"t"}')
  })

  test('volatile fields are removed before hashing; other fields still count; key order does not matter', () => {
    const a = { tx_id: 't1', amount: '100.00', event_time: '2026-01-01T00:00:00Z', data_lag_sec: 3 }
    const b = { tx_id: 't1', amount: '100.00', event_time: '2026-02-02T00:00:00Z', data_lag_sec: 99 }
    expect(canonicalHash(a)).toBe(canonicalHash(b))
    expect(canonicalHash(a)).not.toBe(canonicalHash({ ...b, amount: '200.00' }))
    expect(canonicalHash({ tx_id: 't1', amount: '1', w: 'w' })).toBe(canonicalHash({ w: 'w', amount: '1', tx_id: 't1' }))
    expect(stripVolatile(a, ['event_time'])).toEqual({ tx_id: 't1', amount: '100.00', data_lag_sec: 3 })
  })

  test('plain JS values without a lexeme: safe integers as ints, the rest as Python floats', () => {
    const v: Json = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, f: 0.5, g: 1e21 }
    expect(canonicalJson(v)).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1,"f":0.5,"g":1e+21}')
    expect(canonicalHash(v, [])).toBe(sha256Hex(Buffer.from(canonicalJson(v), 'utf8')))
  })

  test('unicode keys sort by code point like Python, not by UTF-16 unit', () => {
    expect(compareCodePoints('\uFF5E', '\u{1F600}')).toBeLessThan(0)
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF5E': 2 })).toBe('{"\\uff5e":2,"\\ud83d\\ude00":1}')
  })

  test('a body that is not an object has no canonical form; lexemes survive parseLossless', () => {
    expect(() => canonicalPayload('[1,2]')).toThrow(/not a JSON object/)
    expect(() => canonicalPayload('"x"')).toThrow(/not a JSON object/)
    expect(JSON.stringify(parseLossless('{"a":1.50}'))).toBe('{"a":{"lexeme":"1.50"}}')
    expect(() => pythonNumber('9'.repeat(4301))).toThrow(/4300/)
  })
})
