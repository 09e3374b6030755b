import { test, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { renderReadme } from '../../bin/docs.ts'

test('the README gate list is the one generated from the specs (./closeout docs)', async () => {
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  expect(await renderReadme(text)).toBe(text)
  expect(text).toContain('./closeout demo')
  expect(text).toContain('./closeout selftest')
})
