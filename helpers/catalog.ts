// The gate catalogue, generated from the specs (never kept by hand): each spec file is imported in
// catalog mode, where gate() records its definition instead of registering a test.

import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CLASSIFICATION_DESCRIPTIONS, CLASSIFICATIONS } from './classification.ts'
import type { GateDef } from './gate-def.ts'
import { reportsDir, writeJsonAtomic } from './run-state.ts'
import { SUITE_NAMES, SUITES } from './suites.ts'

export interface CatalogEntry extends GateDef {
  file: string
}

export function specFiles(root: string): string[] {
  const dir = join(root, 'specs')
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name.endsWith('.spec.ts')) out.push(p)
    }
  }
  walk(dir)
  // suite order (closeout, rehearsal, readiness), then file name (NN-prefixed = runbook order)
  const rank = (f: string) => SUITE_NAMES.findIndex((s) => relative(dir, f).startsWith(`${s}/`))
  return out.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

let cached: CatalogEntry[] | undefined

/** Every .ts file the definitions can depend on (the specs and the harness), for the cache key. */
function sourceKey(root: string): string {
  const h = createHash('sha256')
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name.endsWith('.ts')) h.update(relative(root, p)).update('\0').update(readFileSync(p)).update('\0')
    }
  }
  for (const d of ['specs', 'helpers']) if (existsSync(join(root, d))) walk(join(root, d))
  return h.digest('hex')
}

/** The catalogue: read from the specs in catalog mode, which imports the whole harness (the
 * Kubernetes and Azure clients: about 1.5 s), so the result is cached under reports/.cache, keyed
 * by a hash of every spec and helper source; any edit there rebuilds it. */
export async function loadCatalog(root = process.cwd()): Promise<CatalogEntry[]> {
  if (cached) return cached
  const key = sourceKey(resolve(root))
  const cacheFile = join(reportsDir(root), '.cache', 'catalog.json')
  try {
    const c = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; entries: CatalogEntry[] }
    if (c.key === key && Array.isArray(c.entries)) return (cached = c.entries)
  } catch {
    /* no cache yet, or unreadable: build it */
  }
  // imported here, not at the top: gate.ts brings the harness, which a cache hit never needs
  const { startCatalogCollection, stopCatalogCollection } = await import('./gate.ts')
  const entries: CatalogEntry[] = []
  for (const file of specFiles(resolve(root))) {
    const reg = startCatalogCollection()
    try {
      await import(/* @vite-ignore */ pathToFileURL(file).href)
    } finally {
      stopCatalogCollection()
    }
    for (const def of reg.defs) entries.push({ ...def, file: relative(root, file) })
  }
  try {
    mkdirSync(dirname(cacheFile), { recursive: true })
    writeJsonAtomic(cacheFile, { key, entries })
  } catch {
    /* a read-only reports dir only costs the rebuild next time */
  }
  cached = entries
  return entries
}

export interface TagDefinition {
  name: string
  description: string
}

/** Every tag vitest must know (strictTags): suites, gate ids, classifications. */
export function tagDefinitions(catalog: CatalogEntry[]): TagDefinition[] {
  const tags: TagDefinition[] = SUITE_NAMES.map((s) => ({ name: s, description: `suite: ${SUITES[s].description}` }))
  const byId = new Map<string, CatalogEntry[]>()
  for (const g of catalog) byId.set(g.id, [...(byId.get(g.id) ?? []), g])
  for (const [id, gs] of byId) tags.push({ name: id, description: `gate (${gs.map((g) => g.suite).join(', ')}): ${gs[0].title}` })
  for (const c of CLASSIFICATIONS) tags.push({ name: c, description: `classification: ${CLASSIFICATION_DESCRIPTIONS[c]}` })
  return tags
}

export function formatCatalog(catalog: CatalogEntry[]): string {
  const rows = catalog.map((g) => [
    g.id,
    g.suite,
    g.classification,
    (g.needs ?? []).join(',') || '-',
    g.evidence,
    `${g.title}${g.mutates ? ' [--allow-mutations]' : ''}${g.disrupts ? ' [--allow-disruption]' : ''}`,
  ])
  const head = ['id', 'suite', 'fails as', 'needs', 'evidence', 'checks']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')
  return [fmt(head), ...rows.map(fmt)].join('\n')
}

export function catalogMarkdown(catalog: CatalogEntry[]): string {
  const lines = ['| id | suite | checks | fails as | needs | evidence |', '|---|---|---|---|---|---|']
  for (const g of catalog) {
    lines.push(
      `| \`${g.id}\` | ${g.suite} | ${g.title}${g.disrupts ? ' (opt-in: `--allow-disruption`)' : ''}${g.mutates ? ' (mutations only with `--allow-mutations`)' : ''} | ${g.classification} | ${(g.needs ?? []).join(', ') || '-'} | ${g.evidence} |`,
    )
  }
  return lines.join('\n')
}
