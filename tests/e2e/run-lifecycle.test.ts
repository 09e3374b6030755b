// Decision trust outside the fault matrix (issue 14), through bin/test.ts against the local
// environment: single-gate runs mean what they say, an interrupt ends the whole process tree with a
// summary on disk and exit 2, runs never share a bundle, a second writer is refused, and a new
// rehearsal cannot reuse the T_cutover of a NO_GO one.

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import type { Summary } from '../../helpers/decision.ts'
import { runDir, writeGateResult, writeRunInfo } from '../../helpers/run-state.ts'
import { envUp, node, outcome, ROOT, runGates, spawnGates, uniqueRunId } from './_run.ts'

const summaryOf = (runId: string): Summary | undefined => {
  const f = join(ROOT, 'reports/runs', runId, 'summary.json')
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Summary) : undefined
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** pids of live processes that belong to the run (every process of it carries CLOSEOUT_RUN_ID) */
function processesOfRun(runId: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`CLOSEOUT_RUN_ID=${runId}`)) out.push(Number(pid))
    } catch {
      /* gone, or not ours */
    }
  }
  return out
}

async function waitFor(what: string, fn: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(100)
  }
}

describe('single-gate runs on a healthy environment', { timeout: 300_000 }, () => {
  beforeAll(() => {
    envUp([])
  })
  test.each(['smoke-200', 'smoke-404', 'consumer-db'])('--tag %s alone is the closeout gate, and GO', (id) => {
    const r = runGates(['--tag', id])
    expect(r.summary.gates.map((g) => `${g.suite}/${g.id}:${g.status}`)).toEqual([`closeout/${id}:passed`])
    expect(r.summary.decision).toBe('GO')
    expect(r.code).toBe(0)
  })
  test('the F3-4 404 smoke asks for missing-tx-id, the E2-3 one for tx-missing-${RUN_ID} with RUN_ID=e2-3-…', () => {
    const c = runGates(['--tag', 'smoke-404'])
    // the record's command is the request really sent (through the port-forward's local URL)
    expect(readFileSync(join(c.summary.bundles.closeout, '05_api_smoke_404.log'), 'utf8')).toMatch(
      /command: GET http:\/\/127\.0\.0\.1:\d+\/admin\/tx\/missing-tx-id\n/,
    )
    const r = runGates(['--tag', 'rehearsal/smoke-404'])
    expect(outcome(r.summary)).toEqual({ 'smoke-404': 'passed' })
    expect(readFileSync(join(r.summary.bundles.rehearsal, '06_smoke_404.log'), 'utf8')).toMatch(
      /command: GET http:\/\/127\.0\.0\.1:\d+\/admin\/tx\/tx-missing-e2-3-[0-9a-z]+\n/,
    )
  })
  test('rehearsal/smoke-200 alone is BLOCKED naming the synced tx id it needs and how to get it (never SMOKE_FAILED)', () => {
    const r = runGates(['--tag', 'rehearsal/smoke-200'])
    expect(outcome(r.summary)).toEqual({ 'smoke-200': 'blocked' })
    expect(r.summary.gates[0].reason).toMatch(/^needs SYNC_TX_ID from sync-happy of the same run.*--tag rehearsal/)
    expect(r.code).toBe(2)
  })
  test('a failed Task 2 probe stops the smoke; --keep-going runs it as advisory and the decision stays as the stop left it', () => {
    // a DB probe that exits 0 without its success marker fails consumer-db (STARTUP_FAILED)
    const dir = mkdtempSync(join(tmpdir(), 'keepgoing-'))
    const f = join(dir, 'local-no-marker.yaml')
    writeFileSync(
      f,
      readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace(
        'command: [txlookup-probe, db]',
        'command: [echo, connected]',
      ),
    )
    const stopped = runGates(['--tag', 'consumer-db', '--tag', 'smoke-404', '--target', f])
    expect(outcome(stopped.summary)).toEqual({ 'consumer-db': 'failed:STARTUP_FAILED', 'smoke-404': 'blocked' })
    expect(stopped.summary.gates[1].reason).toBe('stopped at consumer-db (STARTUP_FAILED)')
    expect(readFileSync(join(stopped.summary.bundles.closeout, '05_api_smoke_404.log'), 'utf8')).not.toContain('--- step:')
    const r = runGates(['--tag', 'consumer-db', '--tag', 'smoke-404', '--target', f, '--keep-going'])
    expect(outcome(r.summary)).toEqual({ 'consumer-db': 'failed:STARTUP_FAILED', 'smoke-404': 'advisory' })
    expect(r.summary.gates[1].reason).toMatch(
      /^advisory \(--keep-going after stopped at consumer-db \(STARTUP_FAILED\); does not count\): passed/,
    )
    expect(r.summary.decision).toBe('NO_GO')
    expect(r.summary.classifications).toEqual(['STARTUP_FAILED'])
    expect(r.code).toBe(1)
  })
})

describe('interrupts and concurrent runs', { timeout: 300_000 }, () => {
  test('SIGTERM to the outer PID mid-rehearsal: exit 2, summary and manifest on disk at exit, the running gate interrupted, no process of the run alive a second later', async () => {
    const runId = uniqueRunId('sigterm-rehearsal')
    const child = spawnGates(['--tag', 'rehearsal', '--run-id', runId, '--quiet'])
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
    // mid-rehearsal: once backfill has started (its provisional result is on disk)
    await waitFor('backfill started', () => existsSync(join(runDir(runId, ROOT), 'gates', 'rehearsal.backfill.json')))
    expect(processesOfRun(runId).length).toBeGreaterThan(1) // bin/test.ts, vitest, its worker
    child.kill('SIGTERM')
    const code = await exited
    // at exit, before anything else happens
    const s = summaryOf(runId)
    expect(code, err).toBe(2)
    expect(s?.interrupted).toBe(true)
    expect(s?.decision).toBe('BLOCKED')
    expect(existsSync(join(s?.bundles.rehearsal as string, 'MANIFEST.sha256'))).toBe(true)
    expect(s?.gates.filter((g) => g.status === 'interrupted').map((g) => g.id).length).toBe(1)
    await sleep(1000)
    expect(processesOfRun(runId)).toEqual([])
    // nothing of the run wrote GO afterwards
    await sleep(2000)
    expect(summaryOf(runId)?.decision).toBe('BLOCKED')
  })

  test('two runs started together get two bundles (unique run ids within one second)', async () => {
    const a = spawnGates(['--tag', 'smoke-404', '--quiet'])
    const b = spawnGates(['--tag', 'smoke-404', '--quiet'])
    const ids: string[] = []
    const codes = await Promise.all(
      [a, b].map(
        (c) =>
          new Promise<number | null>((res) => {
            c.on('exit', (code) => res(code))
          }),
      ),
    )
    expect(codes).toEqual([0, 0])
    for (const dir of readdirSync(join(ROOT, 'reports/runs')).slice(-50)) {
      const s = summaryOf(dir)
      if (
        s &&
        s.gates.length === 1 &&
        Date.now() - Date.parse(s.finishedAt) < 60_000 &&
        s.gates[0].id === 'smoke-404' &&
        s.gates[0].suite === 'closeout'
      )
        ids.push(dir)
    }
    expect(new Set(ids).size).toBeGreaterThanOrEqual(2)
    const bundles = ids.map((id) => summaryOf(id)?.bundles.closeout)
    expect(new Set(bundles).size).toBe(ids.length)
  })

  test('a second writer to an active run (--run-id while it runs) is refused with exit 3 and changes nothing', async () => {
    const runId = uniqueRunId('locked')
    const first = spawnGates(['--tag', 'rehearsal', '--run-id', runId, '--quiet'])
    const done = new Promise<number | null>((res) => first.on('exit', (c) => res(c)))
    await waitFor('first run started', () => existsSync(join(runDir(runId, ROOT), 'gates', 'rehearsal.precheck.json')))
    const second = node(['bin/test.ts', '--tag', 'smoke-404', '--run-id', runId, '--quiet'])
    expect(second.code).toBe(3)
    expect(second.stderr).toMatch(new RegExp(`run ${runId} is in use by process \\d+`))
    expect(await done).toBe(0)
    expect(summaryOf(runId)?.gates.map((g) => g.id)).toEqual([
      'precheck',
      'migrate',
      'backfill',
      'sync-happy',
      'smoke-200',
      'smoke-404',
      'idempotency',
    ])
  })
})

describe('E2-3 §6: a new T_cutover after a NO_GO', { timeout: 120_000 }, () => {
  test('a new rehearsal reusing the T_cutover of a NO_GO one is refused with exit 3 and the rule', () => {
    const t = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const old = uniqueRunId('nogo-cut')
    const now = new Date().toISOString()
    writeRunInfo(
      {
        runId: old,
        target: { file: 'fixtures/targets/local.yaml', name: 'local' },
        startedAt: now,
        tagsFilter: 'rehearsal',
        selected: [],
        allowMutations: false,
        allowDisruption: false,
        invocations: 1,
        owner: 'ops',
        retryAfterHours: 4,
      },
      ROOT,
    )
    writeGateResult(
      old,
      {
        id: 'migrate',
        suite: 'rehearsal',
        status: 'failed',
        classification: 'MIGRATION_FAILED',
        reason: 'exit 1',
        durationMs: 1,
        evidence: null,
        startedAt: now,
        finishedAt: now,
      },
      ROOT,
    )
    writeFileSync(join(runDir(old, ROOT), 'values.json'), JSON.stringify({ T_cutover: t }))
    const r = node(['bin/test.ts', '--tag', 'rehearsal', '--quiet'], { T_CUTOVER: t })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`T_cutover ${t} was the cut line of run ${old}, whose rehearsal is NO_GO (migrate MIGRATION_FAILED)`)
    expect(r.stderr).toContain('E2-3 §6')
  })
})
