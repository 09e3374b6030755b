// `pnpm test --list --json`: the gate catalogue as one JSON document for tools (CI templates, dashboards),
// so nothing has to parse the padded text table. The shape is versioned: add fields, never rename.
import type { CatalogEntry } from './catalog.ts'

export interface CatalogJsonGate {
  id: string
  suite: string
  classification: string
  needs: string[]
  evidence: string
  title: string
  mutates: boolean
  disrupts: boolean
  file: string
}

/** Format the catalogue as `{ "schemaVersion": 1, "gates": [...] }`, in runbook order. */
export function formatCatalogJson(catalog: CatalogEntry[]): string {
  const gates: CatalogJsonGate[] = catalog.map((g) => ({
    id: g.id,
    suite: g.suite,
    classification: g.classification,
    needs: g.needs ?? [],
    evidence: g.evidence,
    title: g.title,
    mutates: Boolean(g.mutates),
    disrupts: Boolean(g.disrupts),
    file: g.file,
  }))
  return JSON.stringify({ schemaVersion: 1, gates }, null, 2)
}
