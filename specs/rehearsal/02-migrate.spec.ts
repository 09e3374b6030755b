/**
 * E2-3 §5.2 — migration gate: `alembic upgrade head` in the API pod.
 */
import { GateFailure, gate } from '../../helpers/index.ts'
import { rehearsalProfile } from '../shared/rehearsal.ts'

gate(
  {
    id: 'migrate',
    suite: 'rehearsal',
    classification: 'MIGRATION_FAILED',
    needs: ['precheck'],
    evidence: '02_alembic_upgrade.log',
    title: 'the schema migration to head succeeds in the API pod',
    description: 'kubectl -n txlookup exec deploy/tx-lookup-api -- alembic upgrade head',
  },
  async (ctx) => {
    const r = await ctx.exec('migration (upgrade head)', {
      deployment: ctx.target.api.deployment,
      container: ctx.target.api.container,
      command: rehearsalProfile(ctx).migrateCommand,
      timeoutMs: 300_000,
    })
    if (r.exitCode !== 0)
      throw new GateFailure(
        `migration exited ${r.exitCode ?? 'without status'}: ${(r.error ?? r.stderr).trim().split('\n').slice(-1)[0] ?? ''}`,
      )
  },
)
