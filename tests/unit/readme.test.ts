import { existsSync, readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { renderReadme, renderTargetsReadme } from '../../bin/docs.ts'

test('the README gate list is the one generated from the specs (./closeout docs)', async () => {
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  expect(await renderReadme(text)).toBe(text)
  expect(text).toContain('./closeout demo')
  expect(text).toContain('./closeout selftest')
  expect(text).toContain('./closeout lint')
})

test('fixtures/targets/README.md lists every profile key the loader accepts (./closeout docs), as its errors promise', () => {
  const file = new URL('../../fixtures/targets/README.md', import.meta.url)
  expect(existsSync(file)).toBe(true)
  const text = readFileSync(file, 'utf8')
  expect(renderTargetsReadme(text)).toBe(text)
  for (const key of [
    '`kube.namespace`',
    '`consumer.registry.kind`',
    '`monitoring.azureMonitor.workspaceId`',
    '`rehearsal.bufferMinutes`',
    '`secretEnv`',
  ])
    expect(text).toContain(key)
  expect(readFileSync(new URL('../../helpers/profile.ts', import.meta.url), 'utf8')).toContain(
    'allowed keys are listed in fixtures/targets/README.md',
  )
})
