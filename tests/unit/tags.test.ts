import { describe, expect, test } from 'vitest'
import { buildTagsFilter, matchesTagExpression, selectGates, UsageError } from '../../helpers/tags.ts'

const known = ['closeout', 'rehearsal', 'readiness', 'smoke-404', 'smoke-200', 'baseline', 'SMOKE_FAILED']

describe('--tag translation', () => {
  test('one tag becomes the filter as is', () => {
    expect(buildTagsFilter(['closeout'], [], known)).toBe('closeout')
  })
  test('repeated --tag is a union', () => {
    expect(buildTagsFilter(['smoke-404', 'smoke-200'], [], known)).toBe('(smoke-404 || smoke-200)')
  })
  test('--tags-filter passes through and is ANDed with --tag', () => {
    expect(buildTagsFilter([], ['closeout && !baseline'], known)).toBe('closeout && !baseline')
    expect(buildTagsFilter(['closeout'], ['!baseline'], known)).toBe('closeout && (!baseline)')
  })
  test('no tag, no filter: everything', () => {
    expect(buildTagsFilter([], [], known)).toBeUndefined()
  })
  test('an unknown tag is refused with the list of known tags', () => {
    expect(() => buildTagsFilter(['closout'], [], known)).toThrow(UsageError)
    try {
      buildTagsFilter(['closout'], [], known)
    } catch (e) {
      expect((e as Error).message).toContain('"closout"')
      expect((e as Error).message).toContain('closeout, readiness, rehearsal')
    }
    expect(() => buildTagsFilter([], ['closeout && nope'], known)).toThrow(/unknown tag "nope"/)
  })
})

describe('tag expressions', () => {
  const tags = ['closeout', 'smoke-404', 'SMOKE_FAILED']
  test.each([
    ['closeout', true],
    ['rehearsal', false],
    ['closeout && smoke-404', true],
    ['closeout && !smoke-404', false],
    ['rehearsal || smoke-404', true],
    ['not rehearsal and (smoke-200 or smoke-404)', true],
    ['!closeout || smoke-404 && rehearsal', false],
    ['smoke-*', true],
    ['SMOKE_*', true],
    ['*_BLOCKED', false],
  ])('%s → %s', (expr, want) => {
    expect(matchesTagExpression(expr, tags)).toBe(want)
  })
  test('malformed expressions are usage errors', () => {
    expect(() => matchesTagExpression('(closeout', tags)).toThrow(UsageError)
    expect(() => matchesTagExpression('closeout &&', tags)).toThrow(UsageError)
  })
})

describe('selection (a gate id in two suites)', () => {
  const g = (suite: string, id: string, classification = 'SMOKE_FAILED') => ({ suite, id, classification })
  const catalog = [
    g('closeout', 'baseline', 'ENVIRONMENT_BLOCKED'),
    g('closeout', 'smoke-404'),
    g('closeout', 'smoke-200'),
    g('rehearsal', 'precheck', 'ENVIRONMENT_BLOCKED'),
    g('rehearsal', 'smoke-200'),
    g('rehearsal', 'smoke-404'),
  ]
  const ids = (tags: string[], runSuites?: string[]) =>
    selectGates(catalog, tags, [], { runSuites }).selected.map((x) => `${x.suite}/${x.id}`)
  test('an id of two suites alone is the closeout gate', () => {
    expect(ids(['smoke-200'])).toEqual(['closeout/smoke-200'])
    expect(ids(['smoke-404', 'smoke-200'])).toEqual(['closeout/smoke-404', 'closeout/smoke-200'])
  })
  test('naming the suite picks the other: SUITE/ID, a suite tag beside it, or the suites of the --run-id run', () => {
    expect(ids(['rehearsal/smoke-200'])).toEqual(['rehearsal/smoke-200'])
    expect(ids(['rehearsal', 'smoke-200'])).toEqual(['rehearsal/precheck', 'rehearsal/smoke-200', 'rehearsal/smoke-404'])
    expect(ids(['smoke-200'], ['rehearsal'])).toEqual(['rehearsal/smoke-200'])
    expect(ids(['precheck', 'smoke-200'])).toEqual(['closeout/smoke-200', 'rehearsal/precheck'])
  })
  test('vitest gets the exact selection, suite by suite', () => {
    expect(selectGates(catalog, ['smoke-200'], []).vitestFilter).toBe('(closeout && (smoke-200))')
    expect(selectGates(catalog, ['rehearsal/smoke-200', 'baseline'], []).vitestFilter).toBe(
      '(closeout && (baseline)) || (rehearsal && (smoke-200))',
    )
  })
  test('an unknown SUITE/ID is a usage error', () => {
    expect(() => ids(['readiness/smoke-200'])).toThrow(/unknown gate "readiness\/smoke-200"/)
  })
})
