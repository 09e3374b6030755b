import { describe, test, expect } from 'vitest'
import { canonicalJson, canonicalHash, stripVolatile, sha256Hex, compareCodePoints } from '../../helpers/canonical.ts'

describe('canonical payload hash', () => {
  test('sorts keys at every depth with compact separators', () => {
    const v = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } }
    expect(canonicalJson(v)).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}')
  })
  test('key order of the input does not change the hash', () => {
    expect(canonicalHash({ tx_id: 't1', amount: '100.00', wallet_id: 'w' })).toBe(canonicalHash({ wallet_id: 'w', amount: '100.00', tx_id: 't1' }))
  })
  test('volatile fields are removed before hashing; other fields still count', () => {
    const a = { tx_id: 't1', amount: '100.00', event_time: '2026-01-01T00:00:00Z', data_lag_sec: 3 }
    const b = { tx_id: 't1', amount: '100.00', event_time: '2026-02-02T00:00:00Z', data_lag_sec: 99 }
    expect(canonicalHash(a)).toBe(canonicalHash(b))
    expect(canonicalHash(a)).not.toBe(canonicalHash({ ...b, amount: '200.00' }))
    expect(stripVolatile(a, ['event_time'])).toEqual({ tx_id: 't1', amount: '100.00', data_lag_sec: 3 })
  })
  test('matches Python json.dumps(sort_keys=True, separators=(",",":"), ensure_ascii=False) byte for byte', () => {
    // python3 -c 'import json,hashlib;print(hashlib.sha256(json.dumps({"tx_id":"t-1","amount":"1.50","n":-3,"f":0.5,"u":"Zürich ✓","l":[1,{"b":2,"a":1}]},sort_keys=True,separators=(",",":"),ensure_ascii=False).encode()).hexdigest())'
    const v = { tx_id: 't-1', amount: '1.50', n: -3, f: 0.5, u: 'Zürich ✓', l: [1, { b: 2, a: 1 }] }
    expect(canonicalJson(v)).toBe('{"amount":"1.50","f":0.5,"l":[1,{"a":1,"b":2}],"n":-3,"tx_id":"t-1","u":"Zürich ✓"}')
    expect(canonicalHash(v, [])).toBe(sha256Hex(Buffer.from('{"amount":"1.50","f":0.5,"l":[1,{"a":1,"b":2}],"n":-3,"tx_id":"t-1","u":"Zürich ✓"}', 'utf8')))
  })
  test('unicode keys sort by code point like Python, not by UTF-16 unit', () => {
    // U+FF5E (fullwidth tilde) < U+1F600 (emoji) by code point, but not by UTF-16 code unit
    expect(compareCodePoints('\uFF5E', '\u{1F600}')).toBeLessThan(0)
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF5E': 2 })).toBe('{"\uFF5E":2,"\u{1F600}":1}')
  })
  test('numbers keep JSON number form; strings stay strings', () => {
    expect(canonicalJson({ a: 1e21, b: 100, c: '100' })).toBe('{"a":1e+21,"b":100,"c":"100"}')
  })
})
