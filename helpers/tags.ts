// `pnpm test --tag X` (the product card's spelling) → vitest's `--tags-filter` expression.
// Also a small evaluator of vitest's tag expressions so the harness knows which gates a run selects.

export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Build one filter expression: repeated --tag are a union; --tags-filter expressions are ANDed with it. */
export function buildTagsFilter(tags: readonly string[], filters: readonly string[], known: readonly string[]): string | undefined {
  const unknown = tags.filter((t) => !known.includes(t))
  if (unknown.length) {
    throw new UsageError(
      `unknown tag${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')}.\nKnown tags: ${[...known].sort().join(', ')}\n(see ./closeout test --list)`,
    )
  }
  for (const f of filters) {
    for (const name of tagNamesIn(f)) {
      if (!name.includes('*') && !known.includes(name)) {
        throw new UsageError(`--tags-filter "${f}" names unknown tag "${name}".\nKnown tags: ${[...known].sort().join(', ')}`)
      }
    }
  }
  const parts: string[] = []
  if (tags.length) parts.push(tags.length === 1 ? tags[0] : `(${tags.join(' || ')})`)
  for (const f of filters) parts.push(filters.length + (tags.length ? 1 : 0) > 1 ? `(${f})` : f)
  return parts.length ? parts.join(' && ') : undefined
}

type Tok = { t: 'name'; v: string } | { t: 'and' | 'or' | 'not' | '(' | ')' }

function tokenize(expr: string): Tok[] {
  const out: Tok[] = []
  const re = /\s*(\(|\)|&&|\|\||!|[^\s()&|!]+)/gy
  let m: RegExpExecArray | null
  let pos = 0
  while (pos < expr.length) {
    re.lastIndex = pos
    m = re.exec(expr)
    if (!m) {
      if (/^\s*$/.test(expr.slice(pos))) break
      throw new UsageError(`cannot parse tag expression "${expr}" near "${expr.slice(pos)}"`)
    }
    pos = re.lastIndex
    const s = m[1]
    if (s === '(' || s === ')') out.push({ t: s })
    else if (s === '&&' || s.toLowerCase() === 'and') out.push({ t: 'and' })
    else if (s === '||' || s.toLowerCase() === 'or') out.push({ t: 'or' })
    else if (s === '!' || s.toLowerCase() === 'not') out.push({ t: 'not' })
    else out.push({ t: 'name', v: s })
  }
  return out
}

export function tagNamesIn(expr: string): string[] {
  return tokenize(expr).flatMap((t) => (t.t === 'name' ? [t.v] : []))
}

/** Evaluate a vitest tag expression (not > and > or, * wildcard) against a test's tags. */
export function matchesTagExpression(expr: string, tags: readonly string[]): boolean {
  const toks = tokenize(expr)
  let i = 0
  const match = (pattern: string) => {
    if (!pattern.includes('*')) return tags.includes(pattern)
    const re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    )
    return tags.some((t) => re.test(t))
  }
  const primary = (): boolean => {
    const tok = toks[i++]
    if (!tok) throw new UsageError(`incomplete tag expression "${expr}"`)
    if (tok.t === 'not') return !primary()
    if (tok.t === '(') {
      const v = or()
      if (toks[i++]?.t !== ')') throw new UsageError(`missing ")" in tag expression "${expr}"`)
      return v
    }
    if (tok.t === 'name') return match(tok.v)
    throw new UsageError(`unexpected "${tok.t}" in tag expression "${expr}"`)
  }
  const and = (): boolean => {
    let v = primary()
    while (toks[i]?.t === 'and') {
      i++
      const r = primary()
      v = v && r
    }
    return v
  }
  const or = (): boolean => {
    let v = and()
    while (toks[i]?.t === 'or') {
      i++
      const r = and()
      v = v || r
    }
    return v
  }
  const v = or()
  if (i < toks.length) throw new UsageError(`unexpected "${JSON.stringify(toks[i])}" in tag expression "${expr}"`)
  return v
}

export interface SelectableGate {
  id: string
  suite: string
  classification: string
}

export interface Selection<G extends SelectableGate> {
  selected: G[]
  /** the exact selection as a vitest --tags-filter expression (suite && id per gate) */
  vitestFilter: string | undefined
  /** the selection as the operator wrote it, for the summaries */
  described: string | undefined
}

/** Which gates a run selects. --tag is a union of suite names, gate ids, classifications and
 * `suite/id`; --tags-filter expressions are ANDed with it. A gate id present in several suites (smoke-200,
 * smoke-404) means the gate of the suites named elsewhere in the selection (a suite tag, a `suite/`
 * prefix, or the suites of the run a --run-id appends to), and the closeout one when none is named. */
export function selectGates<G extends SelectableGate>(
  catalog: readonly G[],
  tags: readonly string[],
  filters: readonly string[],
  opts: { runSuites?: readonly string[] } = {},
): Selection<G> {
  const suites = [...new Set(catalog.map((g) => g.suite))]
  const known = [...new Set(catalog.flatMap((g) => [g.suite, g.id, g.classification]))]
  const qualified = tags.filter((t) => t.includes('/'))
  for (const q of qualified) {
    const [s, id] = q.split('/', 2)
    if (!catalog.some((g) => g.suite === s && g.id === id))
      throw new UsageError(
        `unknown gate "${q}": use SUITE/ID with SUITE one of ${suites.join(', ')} and ID a gate of it (see ./closeout test --list)`,
      )
  }
  const plain = tags.filter((t) => !t.includes('/'))
  const described = buildTagsFilter(plain, filters, known)
  const named = new Set([...plain.filter((t) => suites.includes(t)), ...qualified.map((q) => q.split('/')[0]), ...(opts.runSuites ?? [])])
  const idSuites = (id: string) => new Set(catalog.filter((g) => g.id === id).map((g) => g.suite))
  const byTag = (g: G, t: string): boolean => {
    if (t.includes('/')) return t === `${g.suite}/${g.id}`
    if (t === g.suite || t === g.classification) return true
    if (t !== g.id) return false
    if (idSuites(t).size < 2) return true
    return named.size ? named.has(g.suite) : g.suite === 'closeout'
  }
  let selected = catalog.filter(
    (g) =>
      (!tags.length || tags.some((t) => byTag(g, t))) && filters.every((f) => matchesTagExpression(f, [g.suite, g.id, g.classification])),
  )
  if (opts.runSuites?.length) selected = selected.filter((g) => opts.runSuites!.includes(g.suite))
  const bySuite = new Map<string, string[]>()
  for (const g of selected) bySuite.set(g.suite, [...(bySuite.get(g.suite) ?? []), g.id])
  const vitestFilter = [...bySuite].map(([s, ids]) => `(${s} && (${ids.join(' || ')}))`).join(' || ') || undefined
  const all = [...qualified, ...(described ? [described] : [])].join(' || ')
  return { selected, vitestFilter, described: all || undefined }
}
