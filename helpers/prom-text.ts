// A strict parser of the Prometheus text exposition format (0.0.4): it rejects what Prometheus's own
// text parser (expfmt, behind `promtool check metrics`) rejects — invalid escapes, duplicate label
// names, a second HELP/TYPE line or a TYPE after the family's samples, bad names and values — so a
// gate passing on it means a scraper accepts the page. tests/unit/prom-text.test.ts cross-checks promtool.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  samples: Sample[]
  types: Record<string, string>
  help: Record<string, string>
  /** line number (1-based) and reason for every line a scraper would reject */
  errors: string[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = /^(counter|gauge|histogram|summary|untyped)$/

/** Go's strconv.ParseFloat as expfmt uses it: decimal or exponent forms, Inf / NaN spelled any case. */
function parseValue(v: string): number | undefined {
  if (/^[+-]?inf(inity)?$/i.test(v)) return v.startsWith('-') ? -Infinity : Infinity
  if (/^[+-]?nan$/i.test(v)) return Number.NaN
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) && !/^[+-]?0[xX][0-9a-fA-F]+$/.test(v)) return undefined
  return Number(v)
}

/** Unescape a label value (\\ \" \n only) or HELP text (\\ \n only); undefined on an invalid escape. */
function unescapeText(s: string, quoteAllowed: boolean): string | undefined {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      out += s[i]
      continue
    }
    const n = s[++i]
    if (n === '\\') out += '\\'
    else if (n === 'n') out += '\n'
    else if (n === '"' && quoteAllowed) out += '"'
    else return undefined
  }
  return out
}

interface Cursor {
  text: string
  pos: number
}

/** Parse `{a="x",b="y"}` starting at the `{`; returns the labels or the reason it is rejected. */
function readLabels(c: Cursor): Record<string, string> | string {
  const labels: Record<string, string> = {}
  c.pos++ // '{'
  for (;;) {
    while (c.text[c.pos] === ' ' || c.text[c.pos] === '\t') c.pos++
    if (c.text[c.pos] === '}') {
      c.pos++
      return labels
    }
    const name = /^[^=\s}]*/.exec(c.text.slice(c.pos))?.[0] ?? ''
    if (!LABEL_NAME.test(name)) return `invalid label name "${name.slice(0, 40)}"`
    c.pos += name.length
    while (c.text[c.pos] === ' ') c.pos++
    if (c.text[c.pos] !== '=' || c.text[c.pos + 1] !== '"') return `expected ="…" after label ${name}`
    c.pos += 2
    let raw = ''
    while (c.pos < c.text.length && c.text[c.pos] !== '"') {
      if (c.text[c.pos] === '\\') raw += c.text[c.pos++]
      raw += c.text[c.pos++]
    }
    if (c.pos >= c.text.length) return `unterminated value of label ${name}`
    c.pos++ // closing quote
    const value = unescapeText(raw, true)
    if (value === undefined) return `invalid escape sequence in the value of label ${name} (only \\\\ \\" \\n are allowed)`
    if (name in labels) return `duplicate label name ${name}`
    labels[name] = value
    while (c.text[c.pos] === ' ') c.pos++
    if (c.text[c.pos] === ',') c.pos++
    else if (c.text[c.pos] !== '}') return `expected , or } after label ${name}`
  }
}

/** One sample line: name, optional labels, value, optional integer timestamp. */
function readSample(line: string): Sample | string {
  const name = /^[^\s{]*/.exec(line)?.[0] ?? ''
  if (!NAME.test(name)) return `invalid metric name "${name.slice(0, 60)}"`
  const c: Cursor = { text: line, pos: name.length }
  let labels: Record<string, string> = {}
  if (line[c.pos] === '{') {
    const l = readLabels(c)
    if (typeof l === 'string') return l
    labels = l
  }
  const rest = line.slice(c.pos)
  if (!/^[ \t]/.test(rest)) return 'expected a space before the value'
  const parts = rest.trim().split(/[ \t]+/)
  if (parts.length > 2) return 'unexpected text after the timestamp'
  const value = parseValue(parts[0])
  if (value === undefined) return `invalid value "${parts[0].slice(0, 40)}"`
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) return `invalid timestamp "${parts[1].slice(0, 40)}"`
  return { name, labels, value }
}

interface ParseState {
  out: Exposition
  /** metric names that already have samples (a TYPE after them is rejected) */
  sampled: Set<string>
}

/** `# HELP name text` / `# TYPE name type`; any other comment is ignored as Prometheus ignores it. */
function readComment(line: string, st: ParseState): string | undefined {
  const m = /^#[ \t]+(HELP|TYPE)(?:[ \t]+(\S*))?(?:[ \t]+(.*))?$/.exec(line)
  if (!m) return undefined
  const [, kind, name = '', arg = ''] = m
  if (!NAME.test(name)) return `invalid metric name "${name.slice(0, 60)}" in ${kind} line`
  if (kind === 'HELP') {
    if (name in st.out.help) return `second HELP line for metric name ${name}`
    const text = unescapeText(arg, false)
    if (text === undefined) return `invalid escape sequence in the HELP text of ${name} (only \\\\ and \\n are allowed)`
    st.out.help[name] = text
    return undefined
  }
  const type = arg.trim()
  if (!TYPES.test(type)) return `unknown metric type "${type.slice(0, 30)}" for ${name}`
  if (name in st.out.types || st.sampled.has(name)) return `second TYPE line for metric name ${name}, or TYPE reported after samples`
  st.out.types[name] = type
  return undefined
}

export function parseExposition(text: string): Exposition {
  const st: ParseState = { out: { samples: [], types: {}, help: {}, errors: [] }, sampled: new Set() }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^[ \t]+/, '').replace(/\r$/, '')
    if (!line.trim()) return
    const problem = line.startsWith('#') ? readComment(line, st) : undefined
    if (problem) st.out.errors.push(`${i + 1}: ${problem}`)
    if (line.startsWith('#')) return
    const s = readSample(line)
    if (typeof s === 'string') {
      st.out.errors.push(`${i + 1}: ${s}`)
      return
    }
    st.sampled.add(s.name)
    st.out.samples.push(s)
  })
  return st.out
}

/** The family a sample belongs to: histogram/summary samples carry _bucket/_sum/_count after the family name. */
export function familyOf(e: Exposition, sampleName: string): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const base = sampleName.slice(0, -suffix.length)
    const t = e.types[base]
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base
  }
  return sampleName
}

/** Does the exposition expose this metric family (histograms as _bucket/_sum/_count)? */
export function hasMetric(e: Exposition, name: string): boolean {
  return e.samples.some((s) => s.name === name || s.name === `${name}_bucket` || s.name === `${name}_count` || s.name === `${name}_total`)
}

/** Histogram sanity a scraper cannot use otherwise: per series, bucket counts non-decreasing in le, a
 * +Inf bucket, and +Inf equal to _count. One message per broken series. */
export function histogramProblems(e: Exposition, family: string): string[] {
  const series = new Map<string, { le: number; v: number }[]>()
  const counts = new Map<string, number>()
  const keyOf = (l: Record<string, string>) =>
    JSON.stringify(
      Object.entries(l)
        .filter(([k]) => k !== 'le')
        .sort(),
    )
  for (const s of e.samples) {
    if (s.name === `${family}_bucket`) {
      const k = keyOf(s.labels)
      series.set(k, [...(series.get(k) ?? []), { le: parseValue(s.labels.le ?? '') ?? Number.NaN, v: s.value }])
    } else if (s.name === `${family}_count`) counts.set(keyOf(s.labels), s.value)
  }
  const out: string[] = []
  for (const [k, buckets] of series) {
    const sorted = [...buckets].sort((a, b) => a.le - b.le)
    const dec = sorted.findIndex((b, i) => i > 0 && b.v < sorted[i - 1].v)
    if (dec > 0)
      out.push(
        `${family}${k}: bucket le=${sorted[dec].le} (${sorted[dec].v}) is below le=${sorted[dec - 1].le} (${sorted[dec - 1].v}): buckets are not cumulative`,
      )
    const inf = sorted.find((b) => b.le === Infinity)
    if (!inf) out.push(`${family}${k}: no le="+Inf" bucket`)
    else if (counts.has(k) && counts.get(k) !== inf.v)
      out.push(`${family}${k}: le="+Inf" bucket ${inf.v} differs from _count ${counts.get(k)}`)
  }
  return out
}
