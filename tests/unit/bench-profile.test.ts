// The bench's "where the time goes": a CPU profile's samples attributed to where the code lives
// (a package, a project folder, node's module loader, V8), per process, labelled by its scripts.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { renderWhereTimeGoes, summariseCpuProfiles, whereOf } from '../bench/profile.ts'

const ROOT = '/repo'
const f = (url: string, functionName = 'fn') => ({ url, functionName })

test('whereOf: packages (scoped, pnpm layout), project folders, node internals, V8 buckets', () => {
  expect(
    whereOf(f('file:///repo/node_modules/.pnpm/@kubernetes+client-node@2.0.1/node_modules/@kubernetes/client-node/dist/x.js'), ROOT),
  ).toBe('@kubernetes/client-node')
  expect(whereOf(f('file:///repo/node_modules/.pnpm/yaml@2.9.1/node_modules/yaml/dist/index.js'), ROOT)).toBe('yaml')
  expect(whereOf(f('file:///repo/helpers/kube.ts'), ROOT)).toBe('project: helpers/')
  expect(whereOf(f('node:internal/modules/esm/loader'), ROOT)).toBe('node: module loading')
  expect(whereOf(f('node:internal/streams/writable'), ROOT)).toBe('node: runtime')
  expect(whereOf(f('', '(garbage collector)'), ROOT)).toBe('V8: garbage collection')
  expect(whereOf(f('', '(idle)'), ROOT)).toBe('(idle)')
  expect(whereOf(f('file:///elsewhere/x.js'), ROOT)).toBe('other')
})

test('summariseCpuProfiles: self time per place from samples × time deltas, idle excluded from busy, processes by start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'closeout-prof-'))
  const profile = (start: number, urls: string[], samples: number[], deltasUs: number[]) => ({
    nodes: [
      { id: 1, callFrame: { functionName: '(idle)', url: '' } },
      ...urls.map((url, i) => ({ id: i + 2, callFrame: { functionName: 'f', url } })),
    ],
    startTime: start,
    endTime: start + 1_000_000,
    samples,
    timeDeltas: deltasUs,
  })
  // a worker: 300 ms in the kube client, 100 ms in a spec, 600 ms idle
  const worker = profile(
    2_000_000,
    ['file:///repo/node_modules/@kubernetes/client-node/a.js', 'file:///repo/specs/closeout/01-baseline.spec.ts'],
    [2, 2, 3, 1],
    [150_000, 150_000, 100_000, 600_000],
  )
  const cli = profile(1_000_000, ['file:///repo/bin/test.ts'], [2], [50_000])
  writeFileSync(join(dir, 'CPU.20261201.120000.222.0.001.cpuprofile'), JSON.stringify(worker))
  writeFileSync(join(dir, 'CPU.20261201.120000.111.0.001.cpuprofile'), JSON.stringify(cli))
  const procs = summariseCpuProfiles(dir, ROOT)
  expect(procs.map((p) => [p.label, p.pid, p.startMs])).toEqual([
    ['bin/test.ts (the CLI)', 111, 0],
    ['vitest worker (the gates)', 222, 1000],
  ])
  expect(procs[1].byWhere).toEqual([
    { where: '@kubernetes/client-node', ms: 300 },
    { where: 'project: specs/', ms: 100 },
  ])
  expect(procs[1]).toMatchObject({ wallMs: 1000, busyMs: 400 })
  const md = renderWhereTimeGoes(
    procs,
    {
      nodeStartMs: 90,
      imports: [
        { module: 'zod', ms: 120 },
        { module: 'gone.ts', ms: null, error: 'ERR_MODULE_NOT_FOUND' },
      ],
    },
    'pnpm test --tag closeout',
  )
  expect(md).toContain(
    '| vitest worker (the gates) (pid 222) | +1000 ms | 1000 ms | 400 ms | @kubernetes/client-node 300, project: specs/ 100 |',
  )
  expect(md).toContain('| `gone.ts` | failed: ERR_MODULE_NOT_FOUND |')
})
