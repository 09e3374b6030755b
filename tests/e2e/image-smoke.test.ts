// The in-cluster image, without Docker: deploy/Dockerfile's runtime stage laid out from the Dockerfile
// itself (tests/e2e/_image-layout.ts), /app read-only (a read-only bind mount in a private mount
// namespace), only the reports volume and /tmp writable, run as uid 10001 with no passwd entry, no HOME,
// a clean environment (the Dockerfile's ENV only): the ENTRYPOINT must reach GO against the local
// environment and leave a summary. The Job's env and the reports volume are what the test provides.

import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { layoutRuntime, type RuntimeSpec } from './_image-layout.ts'
import { type CmdResult, envDown, envUp, ROOT } from './_run.ts'

const UID = 10001
// both suites: every file the image carries is used by one of them (the rehearsal reads fixtures/events)
const GO_ARGS = ['--tag', 'closeout', '--tag', 'rehearsal', '--target', 'fixtures/targets/local.yaml']
// outside the checkout (its node_modules would be found by walking up) and outside /tmp (replaced by the
// run's own /tmp); one directory per port base, so parallel checkouts do not share it
const WORK = join('/var/tmp', `closeout-image-smoke-${process.env.CLOSEOUT_PORT_BASE ?? 26000}`)
const PNPM = join(ROOT, '.tools', 'pnpm', 'node_modules', '.bin', 'pnpm')
const NODE_BIN = join(ROOT, '.tools', 'node', 'bin')
const canIsolate = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0 && existsSync(PNPM)

/** A fresh reports volume: the local environment's env.json, kubeconfig and CA, as the Job would get them. */
function reportsVolume(dir: string, appDir: string): void {
  rmSync(dir, { recursive: true, force: true })
  const local = join(dir, 'local-env')
  mkdirSync(join(local, 'pki'), { recursive: true })
  const env = JSON.parse(readFileSync(join(ROOT, 'reports', 'local-env', 'env.json'), 'utf8')) as Record<string, unknown>
  copyFileSync(join(ROOT, 'reports', 'local-env', 'kubeconfig'), join(local, 'kubeconfig'))
  copyFileSync(env.caFile as string, join(local, 'pki', 'ca.crt'))
  writeFileSync(
    join(local, 'env.json'),
    JSON.stringify({
      ...env,
      caFile: join(appDir, 'reports', 'local-env', 'pki', 'ca.crt'),
      kubeconfig: join(appDir, 'reports', 'local-env', 'kubeconfig'),
    }),
  )
  chownTree(dir)
}

function chownTree(dir: string): void {
  chownSync(dir, UID, UID)
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) chownTree(p)
    else chownSync(p, UID, UID)
  }
}

/** Run the image's ENTRYPOINT + args: /app read-only, reports + /tmp writable, uid 10001, no HOME. */
function runImage(app: string, spec: RuntimeSpec, args: string[], reports: string): CmdResult {
  const tmp = join(WORK, 'tmp')
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  chmodSync(tmp, 0o1777)
  mkdirSync(join(app, 'reports'), { recursive: true }) // the volume's mount point (the kubelet creates it)
  // the image's ENV, its /app paths moved to where the layout is
  const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v.replace(new RegExp(`^${spec.workdir}(?=/|$)`), app)}`)
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  const script = [
    'set -e',
    `mount --bind ${q(app)} ${q(app)}`,
    `mount -o remount,ro,bind ${q(app)}`,
    `mount --bind ${q(reports)} ${q(join(app, 'reports'))}`,
    `mount --bind ${q(tmp)} /tmp`,
    `cd ${q(app)}`,
    `exec setpriv --reuid=${UID} --regid=${UID} --clear-groups env -i PATH=${q(`${NODE_BIN}:/usr/bin:/bin`)} ${env.map(q).join(' ')} ${[...spec.entrypoint, ...args].map(q).join(' ')}`,
  ].join('\n')
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 300_000 })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

// one layout + install per COPY line: about 30 s alone, several minutes on a loaded machine
describe.skipIf(!canIsolate)('the image runtime stage, read-only, as an unknown uid (no Docker)', { timeout: 600_000 }, () => {
  const app = join(WORK, 'app')
  const reports = join(WORK, 'reports-volume')
  let spec: RuntimeSpec
  beforeAll(() => {
    envUp()
    spec = layoutRuntime(readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8'), ROOT, app, PNPM)
  })
  afterAll(() => envDown())

  test('the uid has no passwd entry, and /app is really not writable for it', () => {
    expect(spawnSync('getent', ['passwd', String(UID)]).status).not.toBe(0)
    reportsVolume(reports, app)
    const r = runImage(
      app,
      {
        ...spec,
        entrypoint: ['sh', '-c', 'touch bin/x 2>/dev/null && echo app-writable; touch reports/x && touch /tmp/x && echo writable-ok'],
      },
      [],
      reports,
    )
    expect(r.stdout.trim()).toBe('writable-ok')
  })

  test('ENTRYPOINT --tag closeout --tag rehearsal against the local environment: GO, with a summary', () => {
    reportsVolume(reports, app)
    expect(existsSync(join(app, 'fixtures', 'local-env'))).toBe(false)
    const r = runImage(app, spec, GO_ARGS, reports)
    const summaryFile = join(reports, 'latest', 'summary.json')
    expect(existsSync(summaryFile), `no summary (exit ${r.code}):\n${r.stdout}\n${r.stderr}`).toBe(true)
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { decision: string; operator?: string }
    expect({ code: r.code, decision: summary.decision }, `${r.stdout}\n${r.stderr}`).toEqual({ code: 0, decision: 'GO' })
    // vitest's config was loaded without writing beside it, and nothing wrote into /app
    expect(readdirSync(app).filter((f) => f.includes('timestamp'))).toEqual([])
    // nothing tried to write into the read-only tree (vitest's caches go to /tmp, CLOSEOUT_CACHE_DIR)
    expect(r.stdout + r.stderr).not.toMatch(/EACCES|EROFS|could not be created|cannot be analyzed/)
    // stdout is a pipe, as in kubectl logs: no ANSI colour codes
    expect(r.stdout).not.toContain(String.fromCharCode(27) + '[')
  })

  // every COPY line carries something the run needs: without it the entrypoint must not reach GO
  test('without any one COPY line of the runtime stage, no GO', () => {
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8')
    const lines = dockerfile.split('\n')
    const copies = spec.copies.map((c) => c.line)
    expect(copies.length).toBeGreaterThanOrEqual(6)
    const outcomes: Record<string, string> = {}
    for (const line of copies) {
      const variant = join(WORK, 'app-variant')
      const without = lines.map((l, i) => (i + 1 === line ? '# removed by the smoke test' : l)).join('\n')
      const vspec = layoutRuntime(without, ROOT, variant, PNPM)
      reportsVolume(reports, variant)
      const r = runImage(variant, vspec, GO_ARGS, reports)
      const file = join(reports, 'latest', 'summary.json')
      const decision = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { decision: string }).decision : 'no summary'
      outcomes[lines[line - 1]] = r.code === 0 || decision === 'GO' ? `GO (exit ${r.code})` : `exit ${r.code}, ${decision}`
    }
    expect(Object.entries(outcomes).filter(([, o]) => o.startsWith('GO'))).toEqual([])
  })
})
