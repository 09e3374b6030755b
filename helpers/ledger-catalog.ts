// Phase 7 §4 event ledger, read from the PostgreSQL catalog: one query (tables, the processing_result
// CHECK constraint, the indexes) and the judgement of its `kind|name|detail` rows. Names come from the
// profile, whose schema admits only [a-z0-9_.] (and result values [A-Za-z0-9_-]): safe to inline.

export interface LedgerSpec {
  tables: readonly string[]
  checkConstraint: string
  allowedResults: readonly string[]
  indexes: readonly string[]
}

const list = (xs: readonly string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(',')}]::text[]`

export function ledgerCatalogQuery(s: LedgerSpec): string {
  return [
    `SELECT 'table', t, coalesce(to_regclass(t)::text, '') FROM unnest(${list(s.tables)}) t`,
    `SELECT 'check', n.nspname || '.' || r.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace WHERE c.contype = 'c' AND c.conname = '${s.checkConstraint}'`,
    `SELECT 'index', i.schemaname || '.' || i.indexname, i.tablename FROM pg_indexes i WHERE i.schemaname || '.' || i.indexname = ANY(${list(s.indexes)})`,
  ].join(' UNION ALL ')
}

/** What is missing or wrong, from the query's `kind|name|detail` output lines. */
export function ledgerProblems(output: string, s: LedgerSpec): string[] {
  const rows = output
    .split('\n')
    .map((l) => l.trim().split('|'))
    .filter((r) => r.length >= 3)
  const of = (kind: string) => rows.filter((r) => r[0] === kind)
  const out: string[] = []
  for (const t of s.tables) {
    if (!of('table').some((r) => r[1] === t && r[2] !== '')) {
      out.push(`table ${t} does not exist`)
      continue
    }
    const check = of('check').find((r) => r[1] === t)
    if (!check) out.push(`${t} has no CHECK constraint ${s.checkConstraint}`)
    else {
      const def = check.slice(2).join('|')
      const missing = s.allowedResults.filter((v) => !def.includes(`'${v}'`))
      if (!/processing_result/.test(def)) out.push(`${t} ${s.checkConstraint} does not constrain processing_result: ${def}`)
      else if (missing.length) out.push(`${t} ${s.checkConstraint} does not admit ${missing.join(', ')}: ${def}`)
    }
  }
  for (const i of s.indexes) if (!of('index').some((r) => r[1] === i)) out.push(`index ${i} does not exist`)
  return out
}
