// A strict-enough parser of the Prometheus text exposition format (0.0.4): what a scraper accepts.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  samples: Sample[]
  types: Record<string, string>
  help: Record<string, string>
  /** line number (1-based) and text of every line a scraper would reject */
  errors: string[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(\\{(.*)\\})?\\s+(\\S+)(\\s+-?\\d+)?$`)
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity
  if (v === '-Inf') return -Infinity
  if (v === 'NaN') return NaN
  const n = Number(v)
  return v.trim() === '' ? Number.NaN : n
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], types: {}, help: {}, errors: [] }
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd()
    if (!line) return
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line)
      if (m?.[1] === 'TYPE') {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(m[3])) out.errors.push(`${i + 1}: unknown TYPE "${m[3]}"`)
        out.types[m[2]] = m[3]
      } else if (m?.[1] === 'HELP') out.help[m[2]] = m[3]
      return
    }
    const m = SAMPLE.exec(line)
    if (!m) {
      out.errors.push(`${i + 1}: ${line.slice(0, 120)}`)
      return
    }
    const labels: Record<string, string> = {}
    if (m[3] !== undefined && m[3] !== '') {
      LABEL.lastIndex = 0
      let pos = 0
      const body = m[3]
      while (pos < body.length) {
        LABEL.lastIndex = pos
        const l = LABEL.exec(body)
        if (!l) {
          out.errors.push(`${i + 1}: bad labels {${body.slice(0, 80)}}`)
          return
        }
        labels[l[1]] = l[2]
        pos = LABEL.lastIndex
        while (body[pos] === ' ') pos++
      }
    }
    const value = parseValue(m[4])
    if (Number.isNaN(value) && m[4] !== 'NaN') {
      out.errors.push(`${i + 1}: bad value "${m[4]}"`)
      return
    }
    out.samples.push({ name: m[1], labels, value })
  })
  return out
}

/** Does the exposition expose this metric family (histograms as _bucket/_sum/_count)? */
export function hasMetric(e: Exposition, name: string): boolean {
  return e.samples.some((s) => s.name === name || s.name === `${name}_bucket` || s.name === `${name}_count` || s.name === `${name}_total`)
}
