// The one evidence combinator without a cluster: step() owns timing, result, redaction and the
// command from the observed calls; attach() writes redacted side files.

import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { GateEvidence } from '../../helpers/evidence.ts'
import { Redactor } from '../../helpers/redact.ts'

const SECRET = 'hunter2-very-secret'

describe('GateEvidence.step', () => {
  let ev: GateEvidence
  beforeEach(() => {
    const dir = mkdtempSync(join(tmpdir(), 'evidence-'))
    ev = new GateEvidence({ gateId: 'g', suite: 'closeout', file: join(dir, '01_g.log'), owner: 'ops', redactor: new Redactor([SECRET]) })
  })

  test('a passing step records the command and target the client observed, timed by the step', async () => {
    const v = await ev.step(
      'read deployment',
      async (s) => {
        s.observe({ kind: 'k8s', command: 'kubectl -n ns get deploy web', target: 'context=c namespace=ns', status: 200 })
        return 42
      },
      { kind: 'k8s', command: 'fallback never used', outcome: (x) => ({ result: x === 42 ? 'pass' : 'fail', exitCode: 0 }) },
    )
    expect(v).toBe(42)
    const [rec] = ev.records
    expect(rec).toMatchObject({
      step: 'read deployment',
      command: 'kubectl -n ns get deploy web',
      target: 'context=c namespace=ns',
      result: 'pass',
      exitCode: 0,
      httpStatus: 200,
    })
    expect(rec.durationMs).toBeGreaterThanOrEqual(0)
    expect(Date.parse(rec.finishedAt)).toBeGreaterThanOrEqual(Date.parse(rec.startedAt))
    expect(readFileSync(ev.file, 'utf8')).toMatch(
      /--- step: read deployment\ncommand: kubectl -n ns get deploy web\ntarget: context=c namespace=ns\nstarted_at_utc: .*\nfinished_at_utc: .*\nduration_ms: \d+\nexit_code: 0\nhttp_status: 200\nowner: ops\nresult: pass/,
    )
  })

  test('a failing step (the outcome says fail) is recorded as fail and returns its value', async () => {
    const r = await ev.step('probe', async () => ({ exitCode: 1 }), {
      kind: 'exec',
      command: 'kubectl exec x -- probe',
      outcome: (x) => ({ exitCode: x.exitCode, result: 'fail', stderr: `token=${SECRET}` }),
    })
    expect(r.exitCode).toBe(1)
    expect(ev.records[0]).toMatchObject({ result: 'fail', exitCode: 1, command: 'kubectl exec x -- probe' })
    expect(ev.records[0].stderr).not.toContain(SECRET)
    expect(readFileSync(ev.file, 'utf8')).not.toContain(SECRET)
  })

  test('a throwing step is recorded as error with the (redacted) message, and the error is rethrown', async () => {
    const boom = new Error(`connect ECONNREFUSED with password=${SECRET}`)
    await expect(ev.step('call', async () => Promise.reject(boom), { kind: 'http', command: `GET /x?sig=${SECRET}` })).rejects.toBe(boom)
    const [rec] = ev.records
    expect(rec.result).toBe('error')
    expect(rec.exitCode).toBeNull()
    expect(rec.stderr).toContain('ECONNREFUSED')
    expect(JSON.stringify(rec)).not.toContain(SECRET)
    expect(readFileSync(ev.jsonl, 'utf8')).not.toContain(SECRET)
  })

  test('attach() writes a redacted side file next to the bundle file and refuses paths', async () => {
    const path = await ev.attach('02_source.yaml', `env:\n  - name: DB\n    value: postgres://bo:${SECRET}@db/bo\n`)
    expect(path).toBe(join(ev.file, '..', '02_source.yaml'))
    const text = readFileSync(path, 'utf8')
    expect(text).not.toContain(SECRET)
    expect(text).toContain('postgres://bo:***@db/bo')
    await expect(ev.attach('../escape.txt', 'x')).rejects.toThrow(/file name, not a path/)
  })
})
