// The harness as an operator meets it: clear errors, exit codes, and a summary that is always written
// (local environment down, invalid profile, unknown tag, SIGTERM mid-run).

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Summary } from '../../helpers/decision.ts'
import { loadRoleRules, type PolicyRule } from '../../helpers/rbac.ts'
import { runDir, writeGateResult, writeRunInfo } from '../../helpers/run-state.ts'
import { envDown, envUp, node, ROOT, runGates, spawnGates, uniqueRunId } from './_run.ts'

const readSummary = (runId: string): Summary =>
  JSON.parse(readFileSync(join(ROOT, 'reports/runs', runId, 'summary.json'), 'utf8')) as Summary

describe('operator-facing behaviour', { timeout: 120_000 }, () => {
  test('--list prints every gate from the specs with suite, classification, needs and evidence', () => {
    const r = node(['bin/test.ts', '--list'])
    expect(r.code).toBe(0)
    for (const id of [
      'baseline',
      'consumer-rollout',
      'consumer-db',
      'consumer-eventhubs',
      'smoke-404',
      'smoke-200',
      'consumer-lag',
      'consumer-freshness',
      'precheck',
      'migrate',
      'backfill',
      'sync-happy',
      'idempotency',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^${id}\\s`, 'm'))
    }
    expect(r.stdout).toMatch(/^consumer-db\s+closeout\s+STARTUP_FAILED\s+consumer-rollout\s+03_consumer_db_connectivity\.log/m)
  })

  test("an unknown tag exits 3 with the known tags, and still leaves a summary with the profile's owner", () => {
    const runId = uniqueRunId('badtag')
    const r = node(['bin/test.ts', '--tag', 'closout', '--run-id', runId])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('unknown tag "closout"')
    expect(r.stderr).toMatch(/Known tags: .*closeout/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(readSummary(runId).configError).toContain('closout')
    // the profile parsed: its owner, never "unassigned"
    expect(readSummary(runId).retry?.owner).toBe('release-engineering')
  })

  test('--help exits 0 with usage; an unknown option exits 3 with usage and touches no file of any run', () => {
    const help = node(['bin/test.ts', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^usage: pnpm test /)
    const latest = join(ROOT, 'reports/latest/summary.json')
    const before = existsSync(latest) ? readFileSync(latest, 'utf8') : undefined
    const runs = () => (existsSync(join(ROOT, 'reports/runs')) ? readdirSync(join(ROOT, 'reports/runs')).length : 0)
    const n = runs()
    for (const argv of [['--tagg', 'closeout'], ['--target'], ['--allow-mutations=yes'], ['closeout']]) {
      const r = node(['bin/test.ts', ...argv])
      expect(r.code, argv.join(' ')).toBe(3)
      expect(r.stderr).toContain('usage: pnpm test')
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    expect(existsSync(latest) ? readFileSync(latest, 'utf8') : undefined).toBe(before)
    expect(runs()).toBe(n)
  })

  test('--opt=value and --opt value are the same (--target=FILE, --tag=ID, --run-id=ID)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eqform-'))
    const f = join(dir, 'bad.yaml')
    writeFileSync(f, 'name: x\nowner: someone\n')
    const a = uniqueRunId('eq')
    const b = uniqueRunId('sp')
    const r1 = node(['bin/test.ts', `--tag=smoke-404`, `--target=${f}`, `--run-id=${a}`])
    const r2 = node(['bin/test.ts', '--tag', 'smoke-404', '--target', f, '--run-id', b])
    expect([r1.code, r2.code]).toEqual([3, 3])
    for (const id of [a, b]) {
      const s = readSummary(id)
      expect(s.configError).toContain(f)
      expect(s.gates.map((g) => `${g.suite}/${g.id}`)).toEqual(['closeout/smoke-404'])
      expect(s.retry?.owner).toBe('someone')
    }
  })

  test('an invalid profile exits 3, names the key path, and writes a BLOCKED summary with the error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'badprofile-'))
    const f = join(dir, 'bad.yaml')
    writeFileSync(
      f,
      readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace(
        '  namespace: txlookup',
        '  namespace: txlookup\n  nmespace: oops',
      ),
    )
    const runId = uniqueRunId('badprofile')
    const r = node(['bin/test.ts', '--tag', 'closeout', '--target', f, '--run-id', runId])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('kube: unknown key "nmespace"')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    const s = readSummary(runId)
    expect(s.decision).toBe('BLOCKED')
    expect(s.configError).toContain('nmespace')
    expect(s.gates.length).toBe(8)
    expect(s.gates.every((g) => g.status === 'skipped')).toBe(true)
    expect(existsSync(join(s.bundles.closeout, '99_f3_4_runtime_summary.md'))).toBe(true)
  })
})

describe('reruns with --run-id', { timeout: 120_000 }, () => {
  // an earlier rehearsal run whose migration failed (written as bin/test.ts writes it)
  function noGoRehearsal(): string {
    const runId = uniqueRunId('nogo')
    const now = new Date().toISOString()
    writeRunInfo(
      {
        runId,
        target: { file: 'fixtures/targets/local.yaml', name: 'local' },
        startedAt: now,
        tagsFilter: 'rehearsal',
        selected: [
          {
            id: 'migrate',
            suite: 'rehearsal',
            classification: 'MIGRATION_FAILED',
            needs: [],
            evidence: '02_alembic_upgrade.log',
            title: 'm',
          },
        ],
        allowMutations: false,
        allowDisruption: false,
        invocations: 1,
        owner: 'ops',
        retryAfterHours: 4,
      },
      ROOT,
    )
    writeGateResult(
      runId,
      {
        id: 'migrate',
        suite: 'rehearsal',
        status: 'failed',
        classification: 'MIGRATION_FAILED',
        reason: 'exit 1',
        durationMs: 1,
        evidence: null,
        startedAt: now,
        finishedAt: now,
      },
      ROOT,
    )
    return runId
  }

  test('a rerun into a NO_GO rehearsal is refused (exit 3): E2-3 wants a new T_cutover and a full rehearsal; the run is left as it was', () => {
    const runId = noGoRehearsal()
    const before = readFileSync(join(runDir(runId, ROOT), 'run.json'), 'utf8')
    const r = node(['bin/test.ts', '--tag', 'migrate', '--run-id', runId])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`run ${runId}'s rehearsal is NO_GO (migrate MIGRATION_FAILED)`)
    expect(r.stderr).toContain('without --run-id')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(readFileSync(join(runDir(runId, ROOT), 'run.json'), 'utf8')).toBe(before)
    const latest = JSON.parse(readFileSync(join(ROOT, 'reports/latest/summary.json'), 'utf8')) as Summary
    expect(latest.configError).toContain('E2-3 §6')
    expect(latest.runId).not.toBe(runId)
  })

  test('a mistyped rerun command (unknown tag) does not overwrite the run it names', () => {
    const runId = noGoRehearsal()
    const before = readFileSync(join(runDir(runId, ROOT), 'run.json'), 'utf8')
    const r = node(['bin/test.ts', '--tag', 'smoke-4o4', '--run-id', runId])
    expect(r.code).toBe(3)
    expect(readFileSync(join(runDir(runId, ROOT), 'run.json'), 'utf8')).toBe(before)
  })
})

// Preflight (helpers/fixtures/preflight.ts): one GET /version before the first gate that needs the
// cluster, then one SelfSubjectAccessReview per permission the selected gates need.
describe("preflight: the API server and the runner's permissions, before any gate asks the cluster", { timeout: 180_000 }, () => {
  const TOKEN = 'closeout-preflight-sa-token-0123456789'
  const tokensFile = join(ROOT, 'reports/local-env/tokens.json')
  const dir = mkdtempSync(join(tmpdir(), 'preflight-'))
  const profileWith = (kubeconfig: string, file: string) => {
    writeFileSync(
      join(dir, file),
      readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8').replace(/kubeconfig: .*/, `kubeconfig: ${kubeconfig}`),
    )
    return join(dir, file)
  }
  const independent = ['closeout/consumer-db', 'closeout/consumer-eventhubs', 'closeout/smoke-404'].flatMap((t) => ['--tag', t])
  beforeAll(() => {
    envUp([])
  })
  afterAll(() => writeFileSync(tokensFile, '[]'))

  test('an API server that refuses: every selected gate BLOCKED at once with the one reason, no gate called the cluster', () => {
    const kube = readFileSync(join(ROOT, 'reports/local-env/kubeconfig'), 'utf8')
    // a port nothing listens on: the server address of the kubeconfig, moved
    const dead = kube.replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:9')
    writeFileSync(join(dir, 'kubeconfig-dead'), dead)
    const target = profileWith(join(dir, 'kubeconfig-dead'), 'dead.yaml')
    const r = runGates(['--target', target, ...independent])
    expect(r.code).toBe(2)
    expect(r.summary.decision).toBe('BLOCKED')
    const [first, ...rest] = r.summary.gates
    expect(first).toMatchObject({ id: 'consumer-db', status: 'blocked', classification: 'ENVIRONMENT_BLOCKED' })
    expect(first.reason).toMatch(/^preflight: connection refused by 127\.0\.0\.1:9 .*API server https:\/\/127\.0\.0\.1:9/)
    expect(first.reason).toContain('./closeout env up')
    expect(first.reason).not.toContain('\n')
    for (const g of rest) {
      expect(g.status).toBe('blocked')
      // the same preflight reason, or the stop rule it triggered
      if (g.reason !== first.reason) expect(g.reason).toMatch(/^stopped at consumer-(db|eventhubs) \(ENVIRONMENT_BLOCKED\)$/)
    }
    // --keep-going runs the rest for diagnosis: each is blocked by the same one preflight (one probe per worker)
    const k = runGates(['--target', target, ...independent, '--keep-going'])
    const reasons = k.summary.gates.map((g) =>
      g.reason?.replace(/^advisory \(--keep-going after [^)]*\)\)?; does not count\): blocked — /, ''),
    )
    expect(new Set(reasons)).toEqual(new Set([first.reason]))
    // nothing but the preflight note in each gate's log: no gate waited on the dead server itself
    for (const g of k.summary.gates) {
      const log = readFileSync(String(g.evidence), 'utf8')
      expect(log.match(/^--- step: .*/gm)).toEqual(['--- step: preflight (API server and permissions, before any call of this gate)'])
    }
  })

  test('a token bound to a Role without create on pods/exec: the exec gates BLOCKED naming the rule, the rest runs', () => {
    const rules: PolicyRule[] = loadRoleRules(['role.yaml', 'clusterrole-namespace-reader.yaml'].map((f) => join(ROOT, 'deploy/k8s', f)))
    const without = rules
      .map((x) => (x.resources.includes('pods/exec') ? { ...x, verbs: x.verbs.filter((v) => v !== 'create') } : x))
      .filter((x) => x.verbs.length)
    writeFileSync(
      tokensFile,
      JSON.stringify([{ token: TOKEN, user: 'system:serviceaccount:txlookup:closeout-runner', namespace: 'txlookup', rules: without }]),
    )
    const kubeconfig = join(dir, 'kubeconfig-runner')
    writeFileSync(kubeconfig, readFileSync(join(ROOT, 'reports/local-env/kubeconfig'), 'utf8').replace(/token: .*/, `token: ${TOKEN}`))
    // baseline has every verb it needs and runs; consumer-db has not and is blocked before any call
    const r = runGates(['--target', profileWith(kubeconfig, 'runner.yaml'), '--tag', 'closeout/baseline', '--tag', 'closeout/consumer-db'])
    const by = Object.fromEntries(r.summary.gates.map((g) => [g.id, g]))
    expect(by.baseline).toMatchObject({ status: 'passed' })
    for (const id of ['consumer-db']) {
      expect(by[id]).toMatchObject({ status: 'blocked', classification: 'ENVIRONMENT_BLOCKED' })
      expect(by[id].reason).toContain('may not create pods/exec')
      expect(by[id].reason).toContain('- apiGroups: [""]\n  resources: ["pods/exec"]\n  verbs: ["create"]')
      expect(by[id].reason).toContain('deploy/k8s/role.yaml')
    }
    expect(r.code).toBe(2)
  })
})

describe('local environment down', { timeout: 180_000 }, () => {
  beforeAll(() => {
    envDown()
  })
  test('the default local target ends BLOCKED (exit 2) with the `./closeout env up` hint, no stack trace', () => {
    const r = runGates(['--tag', 'closeout'])
    expect(r.code).toBe(2)
    expect(r.summary.decision).toBe('BLOCKED')
    const baseline = r.summary.gates.find((g) => g.id === 'baseline')
    expect(baseline).toMatchObject({ status: 'blocked', classification: 'ENVIRONMENT_BLOCKED' })
    expect(baseline?.reason).toContain('./closeout env up')
    expect(baseline?.reason).not.toMatch(/\n\s+at /)
    for (const g of r.summary.gates.filter((x) => x.id !== 'baseline')) {
      expect(g.status).toBe('blocked')
      expect(g.reason).toMatch(/^blocked by (baseline \(ENVIRONMENT_BLOCKED\)|consumer-rollout \(BLOCKED\))$/)
    }
  })
})

describe('interrupted run', { timeout: 120_000 }, () => {
  let server: Server
  const sockets: Socket[] = []
  beforeAll(async () => {
    // an "API server" that accepts connections and never answers: the run hangs in baseline
    server = createServer((s) => sockets.push(s))
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  })
  afterAll(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })

  test('SIGTERM mid-run: the run stops, the summary and suite markdown are written, decision BLOCKED, exit 2', async () => {
    const port = (server.address() as { port: number }).port
    const dir = mkdtempSync(join(tmpdir(), 'sigterm-'))
    const kubeconfig = join(dir, 'kubeconfig')
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: hang\n  cluster:\n    server: https://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: test-token-not-secret\ncontexts:\n- name: hang\n  context: {cluster: hang, user: u, namespace: txlookup}\ncurrent-context: hang\n`,
    )
    const profile = join(dir, 'hang.yaml')
    writeFileSync(
      profile,
      readFileSync(join(ROOT, 'fixtures/targets/local.yaml'), 'utf8')
        .replace(/kubeconfig: .*/, `kubeconfig: ${kubeconfig}`)
        .replace('context: closeout-local', 'context: hang')
        .replace('requestTimeoutMs: 10000', 'requestTimeoutMs: 120000'),
    )
    const runId = uniqueRunId('sigterm')
    const child = spawnGates(['--tag', 'closeout', '--target', profile, '--run-id', runId])
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    // wait until the first gate is running (its evidence header exists), then interrupt
    const started = Date.now()
    while (!out.includes('closeout: run') && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 4000))
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
    expect(code).toBe(2)
    const s = readSummary(runId)
    expect(s.interrupted).toBe(true)
    expect(s.decision).toBe('BLOCKED')
    expect(s.gates.some((g) => g.status === 'skipped' && g.reason === 'not run: the run was interrupted')).toBe(true)
    // the gate that was running is interrupted (not skipped), with its partial evidence and a footer
    const baseline = s.gates.find((g) => g.id === 'baseline')
    expect(baseline?.status).toBe('interrupted')
    expect(readFileSync(baseline?.evidence as string, 'utf8')).toMatch(/=== gate: baseline[\s\S]*=== result: INTERRUPTED\n/)
    expect(existsSync(join(s.bundles.closeout, '99_f3_4_runtime_summary.md'))).toBe(true)
    expect(existsSync(join(s.bundles.closeout, 'MANIFEST.sha256'))).toBe(true)
    expect(JSON.parse(readFileSync(join(ROOT, 'reports/latest/summary.json'), 'utf8')).runId).toBe(runId)
  })
})
