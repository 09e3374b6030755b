// ci/sbom.ts (the CI templates' SBOM step) makes valid CycloneDX 1.6 JSON of the image's production tree:
// validated with ajv against the CycloneDX schemas shipped by @cyclonedx/cyclonedx-library (the
// generator's own library), and it lists the runtime packages, never the dev-only ones.

import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv } from 'ajv'
import { describe, expect, test } from 'vitest'
import { generateSbom } from '../../ci/sbom.ts'

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)))
const pnpm = join(root, '.tools', 'pnpm', 'node_modules', '.bin', 'pnpm')

/** The schema directory of the CycloneDX library the generator uses (resolved through its own deps). */
function cyclonedxSchemas(): string {
  const npmPkg = realpathSync(join(root, 'node_modules', '@cyclonedx', 'cyclonedx-npm', 'package.json'))
  const lib = createRequire(npmPkg).resolve('@cyclonedx/cyclonedx-library/package.json')
  return join(dirname(lib), 'res', 'schema')
}

function validator(): (doc: unknown) => string[] {
  const dir = cyclonedxSchemas()
  const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false })
  // bom-1.6 refers to its neighbours by their SNAPSHOT file names
  for (const f of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json'])
    ajv.addSchema({ ...load(f), $id: `http://cyclonedx.org/schema/${f}` })
  const validate = ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'))
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`))
}

describe.skipIf(!existsSync(pnpm))('ci/sbom.ts: CycloneDX SBOM of the image node_modules', () => {
  test('valid CycloneDX 1.6 JSON with the runtime dependencies and none of the dev-only ones', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sbom-test-')), 'bom.json')
    const r = generateSbom(out, { pnpm, offline: true })
    const bom = JSON.parse(readFileSync(out, 'utf8')) as {
      bomFormat: string
      specVersion: string
      metadata: { component: { name: string } }
      components: { name: string; group?: string; purl?: string }[]
    }
    expect(validator()(bom)).toEqual([])
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6', metadata: { component: { name: 'closeout' } } })
    expect(r.components).toBe(bom.components.length)
    const names = new Set(bom.components.map((c) => (c.group ? `${c.group}/${c.name}` : c.name)))
    for (const p of ['vitest', 'undici', '@kubernetes/client-node', '@azure/identity', 'allure-vitest']) expect(names.has(p), p).toBe(true)
    // (ws stays: @kubernetes/client-node's exec uses it; only the direct dependency moved to dev)
    for (const p of ['pg', 'ioredis', 'playwright-core', 'allure', 'typescript', '@cyclonedx/cyclonedx-npm'])
      expect(names.has(p), p).toBe(false)
    expect(bom.components.every((c) => c.purl?.startsWith('pkg:npm/'))).toBe(true)
  })

  test('the validator rejects what is not CycloneDX', () => {
    expect(validator()({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ name: 'x' }] }).length).toBeGreaterThan(0)
  })
})
