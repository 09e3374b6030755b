// The event-ledger gate's judgement of the catalog rows (helpers/ledger-catalog.ts).

import { describe, expect, test } from 'vitest'
import { ledgerCatalogQuery, ledgerProblems } from '../../helpers/ledger-catalog.ts'

const SPEC = {
  tables: ['identity.event_ledger', 'public.event_ledger'],
  checkConstraint: 'event_ledger_result_check',
  allowedResults: ['success', 'failure', 'skipped'],
  indexes: ['identity.idx_a'],
}
const CHECK =
  "CHECK (((processing_result)::text = ANY ((ARRAY['success'::character varying, 'failure'::character varying, 'skipped'::character varying])::text[])))"
const ROWS = [
  'table|identity.event_ledger|identity.event_ledger',
  'table|public.event_ledger|event_ledger',
  `check|identity.event_ledger|${CHECK}`,
  `check|public.event_ledger|${CHECK}`,
  'index|identity.idx_a|event_ledger',
]

describe('ledgerProblems', () => {
  test('everything present passes', () => expect(ledgerProblems(ROWS.join('\n'), SPEC)).toEqual([]))
  test('a missing table, constraint or index is named', () => {
    const out = ledgerProblems(
      ['table|identity.event_ledger|identity.event_ledger', 'table|public.event_ledger|', `check|identity.event_ledger|${CHECK}`].join(
        '\n',
      ),
      SPEC,
    )
    expect(out).toEqual(['table public.event_ledger does not exist', 'index identity.idx_a does not exist'])
    expect(ledgerProblems(ROWS.filter((r) => !r.startsWith('check|public')).join('\n'), SPEC)).toEqual([
      'public.event_ledger has no CHECK constraint event_ledger_result_check',
    ])
  })
  test('a constraint that does not admit a value is reported', () => {
    const narrow = ROWS.map((r) => r.replace(", 'skipped'::character varying", ''))
    expect(ledgerProblems(narrow.join('\n'), SPEC).join()).toMatch(/does not admit skipped/)
  })
  test('the query names every table and index', () => {
    const q = ledgerCatalogQuery(SPEC)
    for (const x of [...SPEC.tables, ...SPEC.indexes, SPEC.checkConstraint]) expect(q).toContain(`'${x}'`)
  })
})
