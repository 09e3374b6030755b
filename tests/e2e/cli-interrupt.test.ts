// Ctrl-C / SIGTERM of a real gate run through the wrapper (the bash ./closeout, which execs node bin/closeout.ts):
// the signal reaches bin/test.ts once, it writes the summary, and the wrapper exits with the run's code,
// 2 (BLOCKED), not 130/143. The signal is sent once the run has started a gate, so the run is mid-way.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import type { Summary } from '../../helpers/decision.ts'
import { envUp, ROOT, uniqueRunId } from './_run.ts'

/** Starts `./closeout ARGS` (bash execs node, so the signal reaches bin/closeout.ts), waits until the output shows `marker`, then sends `sig`. */
async function interruptAt(args: string[], marker: RegExp, sig: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
  const p = spawn('bash', [join(ROOT, 'closeout'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const seen = new Promise<void>((res) => {
    const on = (d: Buffer) => {
      out += d
      if (marker.test(out)) res()
    }
    p.stdout.on('data', on)
    p.stderr.on('data', on)
  })
  const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)))
  await Promise.race([seen, exited])
  p.kill(sig)
  return { code: await exited, out }
}

describe('interrupting ./closeout test and ./closeout demo', { timeout: 300_000 }, () => {
  beforeAll(() => envUp([]))

  test('SIGINT during a rehearsal: exit 2, the summary is written and BLOCKED', async () => {
    const runId = uniqueRunId('cli-sigint')
    // vitest's default reporter names a spec file when it finishes: the first one means a gate has run
    const r = await interruptAt(['test', '--tag', 'rehearsal', '--run-id', runId], /01-precheck/, 'SIGINT')
    expect(r.code, r.out).toBe(2)
    expect(r.out).toContain('SIGINT received')
    const file = join(ROOT, 'reports/runs', runId, 'summary.json')
    expect(existsSync(file), r.out).toBe(true)
    expect((JSON.parse(readFileSync(file, 'utf8')) as Summary).decision).toBe('BLOCKED')
  })

  test('SIGTERM during the demo’s suite: exit 2, no further step', async () => {
    const r = await interruptAt(['demo'], /01-baseline/, 'SIGTERM')
    expect(r.code, r.out).toBe(2)
    expect(r.out).toContain('SIGTERM received')
    expect(r.out).not.toContain('3/3 rendering')
  })
})
