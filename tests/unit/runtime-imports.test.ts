// The image's runtime (what deploy/Dockerfile's ENTRYPOINT loads: bin/test.ts, vitest.config.ts, the
// helpers and the specs) imports no test fixture and no dev-only package. Static: every import
// specifier in those files, followed through relative imports to the whole graph.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, test } from 'vitest'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
}

/** Every module a file loads (static imports, re-exports, import() with a literal), read by TypeScript's
 * own pre-processor rather than a regular expression. Type-only imports count too: stricter, never looser. */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true).importedFiles.map((f) => f.fileName)
}

function graph(entries: string[]): { files: Set<string>; bare: Map<string, string> } {
  const files = new Set<string>()
  const bare = new Map<string, string>()
  const todo = [...entries]
  while (todo.length) {
    const f = todo.pop()!
    if (files.has(f)) continue
    files.add(f)
    for (const s of specifiers(f)) {
      if (s.startsWith('.')) todo.push(relative(root, resolve(root, dirname(f), s)))
      else if (!s.startsWith('node:')) bare.set(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0], f)
    }
  }
  return { files, bare }
}

const runtime = () => graph(['bin/test.ts', 'vitest.config.ts', ...tsFiles('helpers'), ...tsFiles('specs')])

describe('the image runtime import graph', () => {
  test('no file under fixtures/ (the local environment is handed over through reports/local-env/env.json)', () => {
    const { files } = runtime()
    expect(files.size).toBeGreaterThan(20)
    for (const f of files) expect(existsSync(join(root, f)), `${f} (imported) exists`).toBe(true)
    expect([...files].filter((f) => f.startsWith('fixtures/') || f.startsWith('tests/'))).toEqual([])
  })

  test('only production dependencies: the prod install in the image has every package it imports', () => {
    const { bare } = runtime()
    const notRuntime = [...bare].filter(([name]) => !(name in pkg.dependencies)).map(([name, from]) => `${name} (imported by ${from})`)
    expect(notRuntime).toEqual([])
  })

  test('the local environment, report and browser packages are dev-only', () => {
    for (const p of ['pg', 'ioredis', 'playwright-core', 'allure', 'typescript']) {
      expect(pkg.dependencies[p], `${p} is not a runtime dependency`).toBeUndefined()
      expect(pkg.devDependencies[p], `${p} is a devDependency`).toBeDefined()
    }
  })

  test('the scanner sees the imports it must see', () => {
    expect(specifiers('bin/test.ts')).toContain('../helpers/decision.ts')
    expect(runtime().bare.has('@kubernetes/client-node')).toBe(true)
  })
})
