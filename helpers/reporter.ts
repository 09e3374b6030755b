// Vitest reporter: when the run ends (or is interrupted), write summary.json, the suite summary
// markdown, the rehearsal records and MANIFEST.sha256 from the persisted gate results.
import type { Reporter, TestModule } from 'vitest/node'
import { finalizeRun } from './decision.ts'
import { readRunInfo } from './run-state.ts'

export default class CloseoutReporter implements Reporter {
  onTestRunEnd(_modules: ReadonlyArray<TestModule>, _errors: ReadonlyArray<unknown>, reason: 'passed' | 'failed' | 'interrupted'): void {
    const runId = process.env.CLOSEOUT_RUN_ID
    if (!runId) return
    const info = readRunInfo(runId)
    if (!info) return
    finalizeRun(runId, { owner: info.owner, retryAfterHours: info.retryAfterHours, interrupted: reason === 'interrupted' })
  }
}
