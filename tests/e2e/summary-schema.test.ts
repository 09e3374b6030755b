// schemas/summary.schema.json is the machine-readable contract of summary.json: real summaries (GO,
// NO_GO / BLOCKED from a fault, a configuration error, and every summary earlier e2e tests left in
// reports/runs) validate against it with ajv, and the schema's enums are the code's.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CLASSIFICATIONS } from '../../helpers/classification.ts'
import { SUITE_NAMES } from '../../helpers/suites.ts'
import { envDown, envUp, node, ROOT, runGates } from './_run.ts'

const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'summary.schema.json'), 'utf8')) as {
  $defs: Record<string, { enum?: string[] }>
}

// ajv-formats is CommonJS: module.exports is the plugin itself (its types only describe .default)
const addFormats = ajvFormats as unknown as typeof ajvFormats.default

function validator(): (doc: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  addFormats(ajv)
  const validate = ajv.compile(schema)
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`))
}

describe('schemas/summary.schema.json', () => {
  beforeAll(() => envUp())
  afterAll(() => envDown())

  test('its enums are the code: classifications and suites', () => {
    expect(schema.$defs.classification.enum).toEqual([...CLASSIFICATIONS])
    expect(schema.$defs.suite.enum).toEqual([...SUITE_NAMES])
  })

  test('a GO run, a run with a failing gate, a configuration error: each summary validates', () => {
    const validate = validator()
    const go = runGates(['--tag', 'closeout'])
    expect(go.summary.decision).toBe('GO')
    expect(validate(go.summary)).toEqual([])
    const oneGate = runGates(['--tag', 'smoke-404'], { CLOSEOUT_LOCAL_REGISTRY_TOKEN: 'wrong' })
    expect(validate(oneGate.summary)).toEqual([])
    const bad = node(['bin/test.ts', '--tag', 'no-such-gate', '--quiet'])
    expect(bad.code).toBe(3)
    const latest = JSON.parse(readFileSync(join(ROOT, 'reports', 'latest', 'summary.json'), 'utf8')) as { configError: string | null }
    expect(latest.configError).toMatch(/no-such-gate/)
    expect(validate(latest)).toEqual([])
  })

  test('stdout is not a TTY (CI logs, kubectl logs): no ANSI colour codes even with CI set', () => {
    const r = node(['bin/test.ts', '--tag', 'smoke-404'], { CI: 'true', FORCE_COLOR: '' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/closeout decision: GO/)
    expect(r.stdout + r.stderr).not.toContain(String.fromCharCode(27) + '[')
  })

  test('every summary under reports/runs (what the other e2e tests produced) validates', () => {
    const validate = validator()
    const dir = join(ROOT, 'reports', 'runs')
    const files = readdirSync(dir)
      .map((r) => join(dir, r, 'summary.json'))
      .filter(existsSync)
    expect(files.length).toBeGreaterThanOrEqual(2)
    const problems = files.flatMap((f) => validate(JSON.parse(readFileSync(f, 'utf8'))).map((p) => `${f}: ${p}`))
    expect(problems).toEqual([])
  })

  test('the validator rejects a summary that breaks the contract', () => {
    const validate = validator()
    const go = JSON.parse(readFileSync(join(ROOT, 'reports', 'latest', 'summary.json'), 'utf8')) as Record<string, unknown>
    expect(validate({ ...go, decision: 'MAYBE' }).join()).toMatch(/\/decision/)
    expect(
      validate({
        ...go,
        gates: [{ id: 'x', suite: 'closeout', status: 'passed', classification: 'SOMETHING', reason: null, durationMs: 1, evidence: null }],
      }).join(),
    ).toMatch(/classification/)
    const { runId: _drop, ...noRunId } = go
    void _drop
    expect(validate(noRunId).join()).toMatch(/runId/)
  })
})
