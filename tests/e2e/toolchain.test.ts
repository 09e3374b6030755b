// The toolchain floor is true where users run it: a user's own `pnpm test` on an old Node (the system
// Node 20 here) gets one line and exit 3, never ERR_UNKNOWN_FILE_EXTENSION; engines, ./closeout,
// the guard and .nvmrc agree; and a checkout in a path with a space works (main-module checks by URL).

import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { ROOT } from './_run.ts'

const OLD_NODE = '/usr/bin/node'
const PNPM = join(ROOT, '.tools', 'pnpm', 'node_modules', '.bin', 'pnpm')
const oldMajor = existsSync(OLD_NODE)
  ? Number(spawnSync(OLD_NODE, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).stdout.trim())
  : 0
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> }

describe('the Node floor', () => {
  test('engines.node, ./closeout, .nvmrc and .node-version agree: >= 22.19, Node 24', () => {
    expect(pkg.engines.node).toBe('>=22.19')
    // ./closeout reads the same number from package.json
    expect(readFileSync(join(ROOT, 'closeout'), 'utf8')).toMatch(/NODE_FLOOR="\$\(sed -n .*package\.json/)
    for (const f of ['.nvmrc', '.node-version']) expect(readFileSync(join(ROOT, f), 'utf8').trim()).toBe('24')
    for (const s of ['test', 'list', 'report']) expect(pkg.scripts[s]).toMatch(/^node bin\/node-guard\.mjs && node bin\//)
  })

  test.skipIf(!oldMajor || oldMajor >= 22 || !existsSync(PNPM))(`a user's own pnpm test on Node ${oldMajor}: one line, exit 3`, () => {
    const r = spawnSync(PNPM, ['--silent', 'test', '--tag', 'closeout'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(OLD_NODE)}:/bin` },
    })
    expect(r.status, r.stderr).toBe(3)
    const ours = r.stderr.split('\n').filter((l) => l.startsWith('closeout:'))
    expect(ours).toEqual([
      expect.stringMatching(
        new RegExp(`^closeout: Node ${oldMajor}\\.\\S+ is older than 22\\.19 \\(package\\.json engines\\.node\\); use Node 24`),
      ),
    ])
    expect(r.stderr + r.stdout).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|TypeError|at .*\.(m?js|ts):\d+/)
  })

  test.skipIf(!oldMajor || oldMajor >= 22)('./closeout with the old Node first on PATH still runs (its Node 24 in .tools)', () => {
    const r = spawnSync(join(ROOT, 'closeout'), ['list'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(OLD_NODE)}:/bin` },
    })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^id\s+suite/)
  })
})

// a pnpm install (offline, from the store) and three ./closeout runs in the copy: slow on a loaded machine
describe('a checkout in a path with a space', { timeout: 300_000 }, () => {
  test('./closeout job render and ./closeout env status print their output (not nothing, exit 0)', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'closeout space-')), 'my checkout')
    try {
      // a clone of the working tree as it is (tracked + new files), with the project's toolchain
      const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
        .stdout.split('\0')
        .filter(Boolean)
      for (const f of files) {
        if (!existsSync(join(ROOT, f))) continue
        mkdirSync(dirname(join(dir, f)), { recursive: true })
        cpSync(join(ROOT, f), join(dir, f))
      }
      cpSync(join(ROOT, '.tools'), join(dir, '.tools'), { recursive: true, verbatimSymlinks: true })
      const env = {
        ...process.env,
        CLOSEOUT_WORKSPACE_ID: '0b6f1c3e-1111-4222-8333-444455556666',
        AZURE_SUBSCRIPTION_ID: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      }
      const render = spawnSync(join(dir, 'closeout'), ['job', 'render', '--target', 'fixtures/targets/aks-dev.yaml', '--tag', 'closeout'], {
        cwd: dir,
        encoding: 'utf8',
        env,
        timeout: 300_000,
      })
      expect(render.status, render.stderr).toBe(0)
      expect(parseAllDocuments(render.stdout).map((d) => (d.toJS() as { kind: string }).kind)).toEqual(['ConfigMap', 'Job'])
      const status = spawnSync(join(dir, 'closeout'), ['env', 'status'], { cwd: dir, encoding: 'utf8', env, timeout: 120_000 })
      expect(status.stdout + status.stderr).toMatch(/simulator/)
      const list = spawnSync(join(dir, 'closeout'), ['test', '--list', '--json'], { cwd: dir, encoding: 'utf8', env, timeout: 120_000 })
      expect(list.status, list.stderr).toBe(0)
      expect((JSON.parse(list.stdout) as { gates: unknown[] }).gates.length).toBeGreaterThan(10)
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true })
    }
  })
})
