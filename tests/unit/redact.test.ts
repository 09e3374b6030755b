import { describe, expect, test } from 'vitest'
import { capText, Redactor } from '../../helpers/redact.ts'

describe('redaction', () => {
  const r = new Redactor(['s3cr3t-profile-value'])
  test('connection-string passwords', () => {
    expect(r.redact('DATABASE_URL=postgresql://bo:hunter2pass@db:5432/bo')).toBe('DATABASE_URL=postgresql://bo:***@db:5432/bo')
  })
  test('bearer tokens and JWTs', () => {
    expect(r.redact('Authorization: Bearer abcdefghijklmnop.qrs')).toBe('Authorization: Bearer ***')
    expect(r.redact('token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop')).not.toContain('eyJhbGci')
  })
  test('SAS keys and Event Hubs connection strings', () => {
    const s = 'Endpoint=sb://nsc-evh-dev.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=AbCdEf123456789=;EntityPath=tx'
    const out = r.redact(s)
    expect(out).toContain('SharedAccessKey=***')
    expect(out).not.toContain('AbCdEf123456789')
    expect(r.redact('https://x.blob.core.windows.net/c?sv=2022&sig=abc%2Fdef123')).toContain('sig=***')
  })
  test('password=, secret: key/value forms', () => {
    expect(r.redact('PGPASSWORD=topsecret99 psql')).toBe('PGPASSWORD=*** psql')
    expect(r.redact('client_secret: "xyz987654"')).toBe('client_secret: "***"')
  })
  test('values of profile secrets and secret env vars, wherever they appear', () => {
    expect(r.redact('curl -H x:s3cr3t-profile-value/path')).toBe('curl -H x:***/path')
    expect(r.with(['another-secret']).redact('another-secret and s3cr3t-profile-value')).toBe('*** and ***')
  })
  test('ordinary text is untouched', () => {
    expect(r.redact('GET /admin/tx/tx-123 → 200 db_connectivity_ok')).toBe('GET /admin/tx/tx-123 → 200 db_connectivity_ok')
  })
  test('capText keeps head or tail within the byte budget', () => {
    const t = 'a'.repeat(100) + 'END'
    expect(capText(t, 10, 'tail')).toMatch(/END$/)
    expect(capText(t, 10, 'head').startsWith('aaaaaaaaaa')).toBe(true)
    expect(capText('short', 10)).toBe('short')
  })
})
