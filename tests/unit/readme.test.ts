import { existsSync, readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { rootCommand } from '../../bin/closeout.ts'
import { alignTable, renderReadme, renderTargetsReadme } from '../../bin/docs.ts'

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

test('every command of ./closeout help is in the README’s command table', () => {
  const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const table = text.slice(text.indexOf('| command '), text.indexOf('`./closeout help` prints the same list'))
  const names = Object.keys(rootCommand.subcommands ?? {}).filter((n) => n !== 'help')
  expect(names.length).toBeGreaterThan(10)
  for (const n of names) expect(table, n).toMatch(new RegExp(`\`(\\./closeout )?${n}[ \`]`))
})

test('generated tables are padded as Biome formats Markdown (./closeout docs and lint --fix agree)', () => {
  expect(alignTable('| a | bb |\n|---|---|\n| ccccc | d \\| e |')).toBe('| a     | bb     |\n| ----- | ------ |\n| ccccc | d \\| e |')
})
