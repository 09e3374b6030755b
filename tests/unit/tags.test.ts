import { describe, test, expect } from 'vitest'
import { buildTagsFilter, matchesTagExpression, UsageError } from '../../helpers/tags.ts'

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
