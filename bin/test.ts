// `pnpm test --tag closeout`: translate the product's flags to vitest, prepare the run, run the
// gates, and exit with the decision: 0 GO, 1 NO_GO, 2 BLOCKED, 3 usage or configuration error.
// The summary is written whatever happens: bad profile, unknown tag, Ctrl-C / SIGTERM, vitest crash.
import { spawn, execFileSync } from 'node:child_process'
import { rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCatalog, formatCatalog, type CatalogEntry } from '../helpers/catalog.ts'
import { buildTagsFilter, matchesTagExpression, UsageError } from '../helpers/tags.ts'
import { loadProfile, resolveTargetPath, ProfileError, type TargetProfile } from '../helpers/profile.ts'
import { finalizeRun, EXIT_CODES, type Summary } from '../helpers/decision.ts'
import { newRunId, readGateResults, readRunInfo, reportsDir, writeRunInfo, type RunInfo, type SelectedGate } from '../helpers/run-state.ts'
import { isBlockingClassification } from '../helpers/classification.ts'
import { commandLine } from '../helpers/evidence.ts'
import { SUITE_NAMES } from '../helpers/suites.ts'
import { operatorName, usableHome } from '../helpers/operator.ts'
import { formatCatalogJson } from '../helpers/catalog-json.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

interface Args {
  tags: string[]
  filters: string[]
  target?: string
  runId?: string
  allowMutations: boolean
  allowDisruption: boolean
  list: boolean
  json: boolean
  help: boolean
  quiet: boolean
}

const USAGE = `usage: pnpm test [--tag TAG]... [--tags-filter EXPR] [--target FILE] [--run-id ID]
                 [--allow-mutations] [--allow-disruption] [--list [--json]]

  --tag TAG            run the gates with this tag (suite: closeout | rehearsal | readiness, a gate id,
                       or a classification); repeat for a union: --tag smoke-404 --tag smoke-200
  --tags-filter EXPR   a vitest tag expression, ANDed with --tag: "closeout && !consumer-lag"
  --target FILE        target profile (default: $CLOSEOUT_TARGET or fixtures/targets/local.yaml)
  --run-id ID          append to an earlier run (one-gate rerun): its bundle and summary are updated
  --allow-mutations    let consumer-rollout set the image / bootstrap the deployment
  --allow-disruption   include the disruptive readiness gates
  --list               print every gate (id, suite, classification, needs, evidence, check) and exit
exit codes: 0 GO, 1 NO_GO, 2 BLOCKED, 3 usage or configuration error`

function parseArgs(argv: string[]): Args {
  const a: Args = { tags: [], filters: [], allowMutations: false, allowDisruption: false, list: false, json: false, help: false, quiet: false }
  const args = argv[0] === '--' ? argv.slice(1) : argv
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith('--') && args[i].includes('=') ? [args[i].slice(0, args[i].indexOf('=')), args[i].slice(args[i].indexOf('=') + 1)] : [args[i], undefined]
    const value = () => {
      const v = inline ?? args[++i]
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value\n\n${USAGE}`)
      return v
    }
    switch (flag) {
      case '--tag':
      case '-t':
        a.tags.push(...value().split(',').map((t) => t.trim()).filter(Boolean))
        break
      case '--tags-filter':
        a.filters.push(value())
        break
      case '--target':
        a.target = value()
        break
      case '--run-id':
        a.runId = value()
        if (!/^[\w.-]+$/.test(a.runId)) throw new UsageError(`--run-id "${a.runId}": use letters, digits, "_", "-" or "." only`)
        break
      case '--allow-mutations':
        a.allowMutations = true
        break
      case '--allow-disruption':
        a.allowDisruption = true
        break
      case '--list':
        a.list = true
        break
      case '--json':
        a.json = true
        break
      case '--quiet':
        a.quiet = true
        break
      case '--help':
      case '-h':
        a.help = true
        break
      default:
        throw new UsageError(`unknown option "${args[i]}"\n\n${USAGE}`)
    }
  }
  return a
}

/** When the embedded local environment is up, expose its ports and tokens to the local profiles
 * (they read ${CLOSEOUT_LOCAL_*} with defaults, so a run with the environment down still loads
 * and ends BLOCKED with the `./closeout env up` hint). Variables already set win. The environment
 * hands them over through reports/local-env/env.json, the file it owns: never an import, so the
 * runtime (the image) carries no test fixture. */
function applyLocalEnv(): void {
  const file = join(reportsDir(ROOT), 'local-env', 'env.json')
  const set = (k: string, v: string | number | undefined) => {
    if (v !== undefined && v !== '' && !process.env[k]) process.env[k] = String(v)
  }
  const setUrls = (p: { laDouble?: number; gateway?: number; eventhubs?: number; registry?: number; arm?: number }) => {
    if (p.laDouble) set('CLOSEOUT_LOCAL_LA_ENDPOINT', `https://127.0.0.1:${p.laDouble}/v1`)
    if (p.gateway) set('CLOSEOUT_LOCAL_PROMETHEUS_URL', `http://127.0.0.1:${p.gateway}`)
    set('CLOSEOUT_LOCAL_EVENTHUBS_PORT', p.eventhubs)
    if (p.registry) set('CLOSEOUT_LOCAL_REGISTRY_URL', `https://127.0.0.1:${p.registry}`)
    if (p.arm) set('CLOSEOUT_LOCAL_ARM_URL', `https://127.0.0.1:${p.arm}`)
  }
  if (!existsSync(file)) return
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as {
      ports?: Record<string, number>
      tokens?: Record<string, string>
      workspaceId?: string
      caFile?: string
      kubeconfig?: string
    }
    set('CLOSEOUT_LOCAL_MONITOR_TOKEN', e.tokens?.monitoring)
    set('CLOSEOUT_LOCAL_REGISTRY_TOKEN', e.tokens?.registry)
    set('CLOSEOUT_LOCAL_ARM_TOKEN', e.tokens?.arm)
    set('CLOSEOUT_LOCAL_WORKSPACE_ID', e.workspaceId)
    setUrls(e.ports ?? {})
    set('CLOSEOUT_LOCAL_CA_FILE', e.caFile)
    // the Log Analytics double is HTTPS with the local CA: Node reads extra CAs only at start, so the
    // gate workers get a bundle of whatever was configured plus ours
    if (e.caFile && existsSync(e.caFile)) {
      const bundle = join(reportsDir(ROOT), 'local-env', 'pki', 'extra-ca-bundle.pem')
      const prev = process.env.NODE_EXTRA_CA_CERTS && process.env.NODE_EXTRA_CA_CERTS !== bundle && existsSync(process.env.NODE_EXTRA_CA_CERTS) ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8') : ''
      writeFileSync(bundle, `${prev}\n${readFileSync(e.caFile, 'utf8')}`)
      process.env.NODE_EXTRA_CA_CERTS = bundle
    }
  } catch {
    /* a broken env.json shows up as a blocked gate with its own message */
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch {
    return 'unknown'
  }
}

/** The operator's command line, as recorded in the summaries (the flags as given). */
function invocationCommand(): string {
  return commandLine(['pnpm', 'test', ...process.argv.slice(2).filter((a) => a !== '--quiet')])
}

function toSelected(g: CatalogEntry): SelectedGate {
  return { id: g.id, suite: g.suite, classification: g.classification, needs: g.needs ?? [], evidence: g.evidence, title: g.title }
}

/** A run that never reached vitest (bad profile, unknown tag): still leave a summary behind. */
function writeConfigErrorSummary(message: string, args: Partial<Args>, targetFile: string, selected: SelectedGate[], profile?: TargetProfile): Summary {
  // a bad rerun command never overwrites the run it meant to append to: the error gets its own run
  const runId = args.runId && !readRunInfo(args.runId, ROOT) ? args.runId : newRunId()
  const info: RunInfo = {
    runId,
    target: { file: relative(ROOT, targetFile) || targetFile, name: profile?.name ?? '' },
    startedAt: new Date().toISOString(),
    tagsFilter: null,
    selected,
    allowMutations: Boolean(args.allowMutations),
    allowDisruption: Boolean(args.allowDisruption),
    configError: message,
    invocations: 1,
    command: invocationCommand(),
    owner: profile?.owner ?? 'unassigned (set owner: in the target profile)',
    retryAfterHours: profile?.retryAfterHours ?? 24,
  }
  writeRunInfo(info, ROOT)
  return finalizeRun(runId, { owner: info.owner, retryAfterHours: info.retryAfterHours, root: ROOT })
}

function printSummary(s: Summary): void {
  const icon = { passed: 'PASS', failed: 'FAIL', blocked: 'BLOCKED', skipped: 'SKIP' } as const
  const lines = ['', `closeout decision: ${s.decision}  (run ${s.runId}, target ${s.target})`]
  for (const g of s.gates) {
    lines.push(`  ${icon[g.status].padEnd(7)} ${`${g.suite}/${g.id}`.padEnd(30)} ${g.classification ?? ''}${g.reason ? `  ${g.reason.split('\n')[0].slice(0, 160)}` : ''}`)
  }
  if (s.configError) lines.push('', `configuration error: ${s.configError}`)
  if (s.retry) lines.push('', `retry: owner ${s.retry.owner}, at ${s.retry.retryAtUtc}`, ...s.retry.unblockCriteria.map((c) => `  - ${c}`))
  lines.push('', `summary: ${relative(ROOT, join(reportsDir(ROOT), 'latest', 'summary.json'))}`)
  for (const [suite, dir] of Object.entries(s.bundles)) lines.push(`evidence (${suite}): ${relative(ROOT, dir)}/`)
  lines.push(`report: ./closeout report  (renders ${relative(ROOT, join(reportsDir(ROOT), 'allure-report'))}/)`, '')
  process.stdout.write(lines.join('\n') + '\n')
}

async function main(): Promise<number> {
  let args: Args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`closeout: ${err.message}\n`)
      writeConfigErrorSummary(err.message, {}, resolveTargetPath(undefined, ROOT), [])
      return EXIT_CODES.USAGE
    }
    throw err
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const catalog = await loadCatalog(ROOT)
  if (args.list) {
    process.stdout.write((args.json ? formatCatalogJson(catalog) : formatCatalog(catalog)) + '\n')
    return 0
  }
  const targetFile = resolveTargetPath(args.target, ROOT)
  const known = [...new Set([...catalog.flatMap((g) => [g.suite, g.id, g.classification])])]
  let filter: string | undefined
  try {
    filter = buildTagsFilter(args.tags, args.filters, [...known, 'closeout', 'rehearsal', 'readiness'])
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`closeout: ${err.message}\n`)
    writeConfigErrorSummary(err.message, args, targetFile, [])
    return EXIT_CODES.USAGE
  }

  // a rerun stays within the suites of the run it appends to
  const earlier = args.runId ? readRunInfo(args.runId, ROOT) : undefined
  if (earlier && filter) {
    const suites = [...new Set(earlier.selected.map((g) => g.suite))]
    if (suites.length) filter = `(${filter}) && (${suites.join(' || ')})`
  }
  const selectedEntries = catalog.filter((g) => !filter || matchesTagExpression(filter, [g.suite, g.id, g.classification]))
  const selected = selectedEntries.map(toSelected)
  // E2-3 §6: after a NO_GO rehearsal the next attempt sets a new T_cutover and reruns it all
  if (earlier && args.runId && selected.some((g) => g.suite === 'rehearsal')) {
    const failed = readGateResults(args.runId, ROOT).filter((r) => r.suite === 'rehearsal' && r.status === 'failed' && !isBlockingClassification(r.classification))
    if (failed.length) {
      const msg = `run ${args.runId}'s rehearsal is NO_GO (${failed.map((r) => `${r.id} ${r.classification}`).join(', ')}): E2-3 §6 requires a new T_cutover and a full rehearsal, not a rerun into it; run \`pnpm test --tag rehearsal\` without --run-id`
      process.stderr.write(`closeout: ${msg}\n`)
      writeConfigErrorSummary(msg, args, targetFile, selected)
      return EXIT_CODES.USAGE
    }
  }

  applyLocalEnv()
  let profile: TargetProfile
  try {
    profile = loadProfile(targetFile)
  } catch (err) {
    if (!(err instanceof ProfileError)) throw err
    process.stderr.write(`closeout: ${err.message}\n`)
    printSummary(writeConfigErrorSummary(err.message, args, targetFile, selected))
    return EXIT_CODES.USAGE
  }
  if (!selected.length) {
    const msg = `no gate matches ${filter ? `"${filter}"` : 'the selection'} (see ./closeout test --list)`
    process.stderr.write(`closeout: ${msg}\n`)
    writeConfigErrorSummary(msg, args, targetFile, [], profile)
    return EXIT_CODES.USAGE
  }

  const runId = args.runId ?? newRunId()
  const merged = new Map((earlier?.selected ?? []).map((g) => [`${g.suite}.${g.id}`, g]))
  for (const g of selected) merged.set(`${g.suite}.${g.id}`, g)
  const info: RunInfo = {
    runId,
    target: { file: relative(ROOT, targetFile) || targetFile, name: profile.name, context: profile.kube.context, namespace: profile.kube.namespace },
    startedAt: earlier?.startedAt ?? new Date().toISOString(),
    tagsFilter: filter ?? null,
    selected: [...merged.values()],
    allowMutations: args.allowMutations,
    allowDisruption: args.allowDisruption,
    invocations: (earlier?.invocations ?? 0) + 1,
    owner: profile.owner,
    retryAfterHours: profile.retryAfterHours,
    command: invocationCommand(),
    suiteGates: Object.fromEntries(SUITE_NAMES.map((s) => [s, catalog.filter((g) => g.suite === s).map((g) => g.id)])),
  }
  writeRunInfo(info, ROOT)
  if (!earlier) rmSync(join(reportsDir(ROOT), 'allure-results'), { recursive: true, force: true })

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CLOSEOUT_RUN_ID: runId,
    CLOSEOUT_TARGET: targetFile,
    CLOSEOUT_TARGET_NAME: profile.name,
    CLOSEOUT_CONTEXT: profile.kube.context ?? '',
    CLOSEOUT_NAMESPACE: profile.kube.namespace,
    CLOSEOUT_ALLOW_MUTATIONS: args.allowMutations ? '1' : '',
    CLOSEOUT_ALLOW_DISRUPTION: args.allowDisruption ? '1' : '',
    CLOSEOUT_GIT_COMMIT: gitCommit(),
    CLOSEOUT_OPERATOR: operatorName(process.env, profile.owner),
    HOME: usableHome(),
    // vitest's ANSI colours end up raw in kubectl logs and CI logs
    ...(process.stdout.isTTY ? {} : { NO_COLOR: '1', FORCE_COLOR: '0' }),
  }
  const vitestBin = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')
  // only the selected gates' spec files are loaded (the tag filter still decides which tests run)
  const files = [...new Set(selectedEntries.map((g) => g.file))]
  // --configLoader runner: the default loader writes vitest.config.ts.timestamp-*.mjs beside the config (read-only /app)
  const vitestArgs = [vitestBin, 'run', '--config', join(ROOT, 'vitest.config.ts'), '--configLoader', 'runner', ...(filter ? ['--tags-filter', filter] : []), ...files]
  if (!args.quiet) process.stdout.write(`closeout: run ${runId} — target ${profile.name} (${relative(ROOT, targetFile)}) — ${selected.length} gate(s)${filter ? ` — filter ${filter}` : ''}\n`)

  let interrupted = false
  const child = spawn(process.execPath, vitestArgs, { cwd: ROOT, env, stdio: ['ignore', args.quiet ? 'ignore' : 'inherit', 'inherit'] })
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    process.stderr.write(`\ncloseout: ${sig} received — stopping the run and writing the summary…\n`)
    child.kill(sig)
    setTimeout(() => child.kill('SIGKILL'), 8_000).unref()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const code: number | null = await new Promise((res) => child.on('exit', (c) => res(c)))

  // The reporter normally finalized already; finalize again (idempotent) so an interrupted or
  // crashed vitest still leaves a complete summary.
  const info2 = readRunInfo(runId, ROOT) as RunInfo
  if (!interrupted && code !== 0 && code !== 1) {
    writeRunInfo({ ...info2, configError: `vitest exited with code ${code}; see the output above` }, ROOT)
  }
  const summary = finalizeRun(runId, { owner: profile.owner, retryAfterHours: profile.retryAfterHours, root: ROOT, interrupted })
  if (!args.quiet) printSummary(summary)
  if (summary.configError) return EXIT_CODES.USAGE
  return EXIT_CODES[summary.decision]
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`closeout: internal error: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(EXIT_CODES.USAGE)
  },
)
