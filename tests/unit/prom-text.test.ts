// The exposition parser against Prometheus's own: every case is also fed to `promtool check metrics`
// (the local environment's prometheus package), and the two must agree on "rejected or not".

import { spawnSync } from 'node:child_process'
import { describe, expect, test } from 'vitest'
import { histogramProblems, parseExposition } from '../../helpers/prom-text.ts'

const CASES: { name: string; text: string; rejected: boolean }[] = [
  {
    name: 'valid page',
    text: '# HELP a_total Requests.\n# TYPE a_total counter\na_total{m="GET",s="200"} 3 1700000000000\n',
    rejected: false,
  },
  { name: 'escapes \\\\ \\" \\n', text: 'a{l="x\\\\y\\"z\\nw"} 1\n', rejected: false },
  { name: 'Inf, NaN and exponent values', text: 'a{l="1"} +Inf\na{l="2"} NaN\na{l="3"} 1.5e-3\n', rejected: false },
  { name: 'other comments', text: '# just a comment\na 1\n', rejected: false },
  { name: 'invalid escape in a label value', text: 'a{l="\\q"} 1\n', rejected: true },
  // the reference API's fault metrics-bad-exposition writes exactly this line
  { name: 'unescaped regex in a label value', text: 'txlookup_build_info{tx_pattern="^tx-\\d+$"} 1\n', rejected: true },
  { name: 'invalid escape in HELP', text: '# HELP a foo\\q\na 1\n', rejected: true },
  { name: 'duplicate label name', text: 'a{l="1",l="2"} 1\n', rejected: true },
  { name: 'second TYPE line', text: '# TYPE a counter\n# TYPE a counter\na 1\n', rejected: true },
  { name: 'TYPE after samples', text: 'a 1\n# TYPE a counter\n', rejected: true },
  { name: 'second HELP line', text: '# HELP a x\n# HELP a y\na 1\n', rejected: true },
  { name: 'unknown type', text: '# TYPE a countr\na 1\n', rejected: true },
  { name: 'bad value', text: 'a one\n', rejected: true },
  { name: 'bad metric name', text: '1a 1\n', rejected: true },
  { name: 'bad label name', text: 'a{1l="x"} 1\n', rejected: true },
  { name: 'unterminated label value', text: 'a{l="x} 1\n', rejected: true },
  // Prometheus accepts a bucket without le; histogramProblems reports it (no +Inf bucket)
  { name: 'bucket without le', text: '# TYPE h histogram\nh_bucket{x="1"} 1\nh_sum 1\nh_count 1\n', rejected: false },
  { name: 'text after the timestamp', text: 'a 1 2 3\n', rejected: true },
]

function promtoolRejects(text: string): boolean {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error) throw new Error(`promtool is not on PATH (${r.error.message}): install the prometheus package (the local env does)`)
  // exit 1 + "parsing error" = rejected; exit 3 = accepted with lint remarks (naming, help text)
  return r.status === 1 && /parsing error/.test(`${r.stdout}${r.stderr}`)
}

describe('parseExposition agrees with promtool check metrics', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const e = parseExposition(c.text)
      expect(e.errors.length > 0, `our errors: ${e.errors.join('; ')}`).toBe(c.rejected)
      expect(promtoolRejects(c.text)).toBe(c.rejected)
    })
  }
})

describe('histogramProblems', () => {
  const page = (b: number[], count: number) =>
    `# TYPE h histogram\n${['0.1', '1', '+Inf'].map((le, i) => `h_bucket{r="x",le="${le}"} ${b[i]}`).join('\n')}\nh_sum{r="x"} 1\nh_count{r="x"} ${count}\n`
  test('cumulative buckets with +Inf = _count pass', () => expect(histogramProblems(parseExposition(page([1, 2, 3], 3)), 'h')).toEqual([]))
  test('a decreasing bucket is reported', () =>
    expect(histogramProblems(parseExposition(page([2, 1, 3], 3)), 'h').join()).toMatch(/not cumulative/))
  test('+Inf differing from _count is reported', () =>
    expect(histogramProblems(parseExposition(page([1, 2, 3], 4)), 'h').join()).toMatch(/differs from _count/))
})
