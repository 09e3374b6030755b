// The gate catalogue cache (reports/.cache/catalog.json): a hit skips importing the harness, and any
// edit of a spec or helper rebuilds it, so --list, the tags and the README never go stale.

import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

/** loadCatalog in a fresh process (the module keeps its own copy in memory) */
function titles(root: string): string[] {
  const script = `
    const m = await import(${JSON.stringify(join(root, 'helpers/catalog.ts'))})
    const c = await m.loadCatalog(${JSON.stringify(root)})
    console.log(JSON.stringify(c.map((g) => g.id + ': ' + g.title)))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, CLOSEOUT_REPORTS_DIR: join(root, 'reports') },
  })
  if (r.status !== 0) throw new Error(r.stderr.split('\n').slice(0, 5).join('\n'))
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as string[]
}

test('the catalogue is cached, and rebuilt when a spec changes', () => {
  const root = mkdtempSync(join(tmpdir(), 'catalog-'))
  cpSync(join(ROOT, 'specs'), join(root, 'specs'), { recursive: true })
  cpSync(join(ROOT, 'helpers'), join(root, 'helpers'), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'))
  writeFileSync(join(root, 'package.json'), '{"type":"module"}')

  const first = titles(root)
  expect(first).toContain('smoke-404: returns 404 for an unknown tx id')
  expect(existsSync(join(root, 'reports/.cache/catalog.json'))).toBe(true)

  // a hit answers without importing the specs: with the dependencies gone, importing would fail
  rmSync(join(root, 'node_modules'))
  mkdirSync(join(root, 'node_modules'))
  expect(titles(root)).toEqual(first)
  rmSync(join(root, 'node_modules'), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'))

  // an edited spec title shows up at once
  const spec = join(root, 'specs/closeout/05-smoke-404.spec.ts')
  const text = readFileSync(spec, 'utf8')
  expect(text).toContain('returns 404 for an unknown tx id')
  writeFileSync(spec, text.replace('returns 404 for an unknown tx id', 'returns 404 for a tx id nobody has'))
  expect(titles(root)).toContain('smoke-404: returns 404 for a tx id nobody has')
})
