// `pnpm test --tag closeout`: resolve the run (selection, flags, profile), write it to run.json (the
// one channel to the workers), run the gates in vitest in its own process group, and finalize once:
// exit 0 GO, 1 NO_GO, 2 BLOCKED (interrupted included), 3 usage or configuration error.
// The summary is written whatever happens: bad profile, unknown tag, Ctrl-C / SIGTERM, vitest crash.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parse as parseYaml } from 'yaml'
import { finalizeRun } from '../helpers/bundle.ts'
import { type CatalogEntry, formatCatalog, loadCatalog } from '../helpers/catalog.ts'
import { formatCatalogJson } from '../helpers/catalog-json.ts'
import { isBlockingClassification } from '../helpers/classification.ts'
import { EXIT_CODES, STATUS_LABELS, type Summary } from '../helpers/decision.ts'
import { commandLine } from '../helpers/evidence.ts'
import { exportRun } from '../helpers/export-run.ts'
import { isFleetArgv } from '../helpers/fleet.ts'
import { redactNotifyArgs } from '../helpers/notify.ts'
import { operatorName, usableHome } from '../helpers/operator.ts'
import { checkPolicyGates } from '../helpers/policy.ts'
import { interpolate, loadProfile, ProfileError, resolveTargetPath, type TargetProfile } from '../helpers/profile.ts'
import {
  lockRun,
  newRunId,
  type RunInfo,
  RunLockedError,
  readGateResults,
  readRunInfo,
  reportsDir,
  runDir,
  type SelectedGate,
  writeRunInfo,
} from '../helpers/run-state.ts'
import { SUITE_NAMES } from '../helpers/suites.ts'
import { selectGates, UsageError } from '../helpers/tags.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

const USAGE = `usage: pnpm test [--tag TAG]... [--tags-filter EXPR] [--target FILE] [--run-id ID]
                 [--allow-mutations] [--allow-disruption] [--keep-going] [--list [--json]] [--quiet]
                 [--notify URL [--notify-format slack|teams]]

  --tag TAG            run the gates with this tag (suite: closeout | rehearsal | readiness, a gate id,
                       a classification, or SUITE/ID); repeat for a union: --tag smoke-404 --tag smoke-200.
                       A gate id of two suites (smoke-200, smoke-404) is the closeout one unless a suite
                       is named: --tag rehearsal/smoke-200, --tag rehearsal --tag smoke-200, or --run-id
  --tags-filter EXPR   a vitest tag expression, ANDed with --tag: "closeout && !consumer-lag"
  --target FILE        target profile (default: $CLOSEOUT_TARGET or fixtures/targets/local.yaml)
  --run-id ID          append to an earlier run (one-gate rerun): its bundle and summary are updated
  --allow-mutations    let consumer-rollout set the image / bootstrap the deployment
  --allow-disruption   include the disruptive readiness gates
  --keep-going         after a stop rule, run the remaining gates for diagnosis (advisory, never counted)
  --list               print every gate (id, suite, classification, needs, evidence, check) and exit
  --notify URL         after the run, post the decision card to a Teams or Slack incoming webhook
                       (default: $CLOSEOUT_NOTIFY_URL; the URL is a secret: never recorded or printed)
  --notify-format F    slack | teams (default: from the URL's host, or $CLOSEOUT_NOTIFY_FORMAT)
  OTLP traces of the run are sent when OTEL_EXPORTER_OTLP_ENDPOINT is set. Neither changes the exit code.
exit codes: 0 GO, 1 NO_GO, 2 BLOCKED (an interrupted run too), 3 usage or configuration error`

interface Args {
  tags: string[]
  filters: string[]
  target?: string
  runId?: string
  allowMutations: boolean
  allowDisruption: boolean
  keepGoing: boolean
  list: boolean
  json: boolean
  help: boolean
  quiet: boolean
  notifyUrl?: string
  notifyFormat?: 'slack' | 'teams'
}

/** node:util parseArgs: `--opt=value` and `--opt value`; anything unknown is a UsageError. */
export function parseCli(argv: string[]): Args {
  const args = argv[0] === '--' ? argv.slice(1) : argv
  let v: ReturnType<typeof parse>['values']
  function parse(a: string[]) {
    return parseArgs({
      args: a,
      strict: true,
      allowPositionals: false,
      options: {
        tag: { type: 'string', short: 't', multiple: true },
        'tags-filter': { type: 'string', multiple: true },
        target: { type: 'string' },
        'run-id': { type: 'string' },
        'allow-mutations': { type: 'boolean' },
        'allow-disruption': { type: 'boolean' },
        'keep-going': { type: 'boolean' },
        list: { type: 'boolean' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        notify: { type: 'string' },
        'notify-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  }
  try {
    v = parse(args).values
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\n\n${USAGE}`)
  }
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string' && x === '') throw new UsageError(`--${k} needs a value\n\n${USAGE}`)
  // the webhook URL is a secret: the message says what is wrong, never the value
  if (v.notify !== undefined && !/^https?:\/\/[^\s/]+/i.test(v.notify))
    throw new UsageError('--notify: not an http(s) URL (the value is not shown: it is a secret); give the incoming webhook URL')
  const format = v['notify-format']
  if (format !== undefined && format !== 'slack' && format !== 'teams')
    throw new UsageError(`--notify-format "${format}": use slack or teams`)
  const runId = v['run-id']
  if (runId !== undefined && !/^[\w.-]+$/.test(runId))
    throw new UsageError(`--run-id "${runId}": use letters, digits, "_", "-" or "." only`)
  return {
    tags: (v.tag ?? []).flatMap((t) =>
      t
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
    filters: v['tags-filter'] ?? [],
    target: v.target,
    runId,
    allowMutations: Boolean(v['allow-mutations']),
    allowDisruption: Boolean(v['allow-disruption']),
    keepGoing: Boolean(v['keep-going']),
    list: Boolean(v.list),
    json: Boolean(v.json),
    help: Boolean(v.help),
    quiet: Boolean(v.quiet),
    notifyUrl: v.notify,
    notifyFormat: format,
  }
}

/** When the embedded local environment is up, expose its ports and tokens to the local profiles
 * (they read ${CLOSEOUT_LOCAL_*} with defaults, so a run with the environment down still loads
 * and ends BLOCKED with the `./closeout env up` hint). Variables already set win. With the
 * environment down the URLs still follow CLOSEOUT_PORT_BASE, so a run never reaches the
 * environment of another checkout on the default ports. */
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
    }
    set('CLOSEOUT_LOCAL_MONITOR_TOKEN', e.tokens?.monitoring)
    set('CLOSEOUT_LOCAL_REGISTRY_TOKEN', e.tokens?.registry)
    set('CLOSEOUT_LOCAL_ARM_TOKEN', e.tokens?.arm)
    set('CLOSEOUT_LOCAL_WORKSPACE_ID', e.workspaceId)
    // an env.json from before the registry double has no registry port: the port base's
    setUrls(e.ports ?? {})
    set('CLOSEOUT_LOCAL_CA_FILE', e.caFile)
    // the Log Analytics double is HTTPS with the local CA: Node reads extra CAs only at start, so the
    // gate workers get a bundle of whatever was configured plus ours
    if (e.caFile && existsSync(e.caFile)) {
      const bundle = join(reportsDir(ROOT), 'local-env', 'pki', 'extra-ca-bundle.pem')
      const prev =
        process.env.NODE_EXTRA_CA_CERTS && process.env.NODE_EXTRA_CA_CERTS !== bundle && existsSync(process.env.NODE_EXTRA_CA_CERTS)
          ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8')
          : ''
      writeFileSync(bundle, `${prev}\n${readFileSync(e.caFile, 'utf8')}`)
      process.env.NODE_EXTRA_CA_CERTS = bundle
    }
  } catch {
    /* a broken env.json shows up as a blocked gate with its own message */
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return 'unknown'
  }
}

/** The operator's command line, as recorded in the summaries (the flags as given). */
function invocationCommand(): string {
  // run.json and every summary record this line: the webhook URL (a secret) never reaches them
  return commandLine(['pnpm', 'test', ...redactNotifyArgs(process.argv.slice(2).filter((a) => a !== '--quiet'))])
}

function toSelected(g: CatalogEntry): SelectedGate {
  return { id: g.id, suite: g.suite, classification: g.classification, needs: g.needs ?? [], evidence: g.evidence, title: g.title }
}

/** The owner of a profile that did not validate, when its YAML parsed and names one. */
function looseOwner(file: string): string | undefined {
  try {
    const doc = parseYaml(readFileSync(file, 'utf8')) as { owner?: unknown }
    const owner = typeof doc?.owner === 'string' ? interpolate(doc.owner, process.env, 'owner', []) : undefined
    return typeof owner === 'string' && owner ? owner : undefined
  } catch {
    return undefined
  }
}

interface Prepared {
  profile?: TargetProfile
  profileError?: ProfileError
  owner: string
  retryAfterHours: number
}

function prepareProfile(targetFile: string): Prepared {
  try {
    const profile = loadProfile(targetFile)
    return { profile, owner: profile.owner, retryAfterHours: profile.retryAfterHours }
  } catch (err) {
    if (!(err instanceof ProfileError)) throw err
    return { profileError: err, owner: looseOwner(targetFile) ?? 'unassigned (set owner: in the target profile)', retryAfterHours: 24 }
  }
}

/** A run that never reached vitest (bad profile, unknown tag): still leave a summary behind. */
function writeConfigErrorSummary(message: string, args: Partial<Args>, targetFile: string, selected: SelectedGate[], p: Prepared): Summary {
  // a bad rerun command never overwrites the run it meant to append to: the error gets its own run
  const runId = args.runId && !existsSync(runDir(args.runId, ROOT)) ? args.runId : newRunId()
  const info: RunInfo = {
    runId,
    target: { file: relative(ROOT, targetFile) || targetFile, name: p.profile?.name ?? '' },
    startedAt: new Date().toISOString(),
    tagsFilter: null,
    selected,
    allowMutations: Boolean(args.allowMutations),
    allowDisruption: Boolean(args.allowDisruption),
    configError: message,
    invocations: 1,
    command: invocationCommand(),
    owner: p.owner,
    retryAfterHours: p.retryAfterHours,
  }
  writeRunInfo(info, ROOT)
  return finalizeRun(runId, { owner: info.owner, retryAfterHours: info.retryAfterHours, root: ROOT, policy: p.profile?.policy })
}

function printSummary(s: Summary): void {
  const lines = ['', `closeout decision: ${s.decision}  (run ${s.runId}, target ${s.target})`]
  for (const g of s.gates) {
    lines.push(
      `  ${STATUS_LABELS[g.status].padEnd(8)} ${`${g.suite}/${g.id}`.padEnd(30)} ${g.classification ?? ''}${g.reason ? `  ${g.reason.split('\n')[0].slice(0, 160)}` : ''}`,
    )
  }
  for (const w of s.waiversInForce)
    lines.push(`  waiver in force: ${w.gate} ${w.classification} — ${w.ticket} (${w.owner}) until ${w.expiresAt}`)
  for (const w of s.waiversExpired)
    lines.push(`  waiver EXPIRED (ignored): ${w.gate} ${w.classification} — ${w.ticket} expired ${w.expiresAt}`)
  if (s.configError) lines.push('', `configuration error: ${s.configError}`)
  if (s.retry) lines.push('', `retry: owner ${s.retry.owner}, at ${s.retry.retryAtUtc}`, ...s.retry.unblockCriteria.map((c) => `  - ${c}`))
  lines.push('', `summary: ${relative(ROOT, join(reportsDir(ROOT), 'latest', 'summary.json'))}`)
  for (const [suite, dir] of Object.entries(s.bundles)) lines.push(`evidence (${suite}): ${relative(ROOT, dir)}/`)
  lines.push(`report: ./closeout report  (renders ${relative(ROOT, join(reportsDir(ROOT), 'allure-report'))}/)`, '')
  process.stdout.write(lines.join('\n') + '\n')
}

/** After the summary is final: OTLP traces and the webhook card; printed lines, never a different exit code. */
async function exportOutcome(o: Outcome, args: Args): Promise<void> {
  if (!o.summary) return
  const lines = await exportRun(o.summary, { notifyUrl: args.notifyUrl, notifyFormat: args.notifyFormat })
  for (const l of lines) process.stdout.write(`closeout: ${l}\n`)
}

/** E2-3 §6 as a refusal: a rerun into a NO_GO rehearsal, or a new rehearsal on the T_cutover of a NO_GO one. */
function rehearsalRefusal(args: Args, earlier: RunInfo | undefined, selected: SelectedGate[], profile: TargetProfile): string | undefined {
  if (!selected.some((g) => g.suite === 'rehearsal')) return undefined
  const noGo = (runId: string) =>
    readGateResults(runId, ROOT).filter(
      (r) => r.suite === 'rehearsal' && r.status === 'failed' && !isBlockingClassification(r.classification),
    )
  if (earlier && args.runId) {
    const failed = noGo(args.runId)
    if (failed.length) {
      return `run ${args.runId}'s rehearsal is NO_GO (${failed.map((r) => `${r.id} ${r.classification}`).join(', ')}): E2-3 §6 requires a new T_cutover and a full rehearsal, not a rerun into it; run \`pnpm test --tag rehearsal\` without --run-id`
    }
    return undefined
  }
  const cut = profile.rehearsal?.cutover
  if (!cut) return undefined
  const runs = join(reportsDir(ROOT), 'runs')
  for (const id of existsSync(runs) ? readdirSync(runs) : []) {
    const values = join(runs, id, 'values.json')
    if (!existsSync(values)) continue
    let t: unknown
    try {
      t = (JSON.parse(readFileSync(values, 'utf8')) as { T_cutover?: unknown }).T_cutover
    } catch {
      continue
    }
    const failed = t === cut ? noGo(id) : []
    if (failed.length) {
      return `T_cutover ${cut} was the cut line of run ${id}, whose rehearsal is NO_GO (${failed.map((r) => `${r.id} ${r.classification}`).join(', ')}): E2-3 §6 — the next attempt must set a new T_cutover (rehearsal.cutover / T_CUTOVER) and rerun the full rehearsal`
    }
  }
  return undefined
}

/** The vitest process tree of one run: its own process group, so a signal reaches every worker and
 * nothing of the run survives the CLI. */
class GateProcess {
  child?: ChildProcess
  interrupted = false
  private signalGroup(sig: NodeJS.Signals): boolean {
    if (!this.child?.pid) return false
    try {
      process.kill(-this.child.pid, sig)
      return true
    } catch {
      return false // the group is gone
    }
  }
  start(args: string[], quiet: boolean): Promise<number | null> {
    // HOME: vitest needs one (a uid without a passwd entry has none); no ANSI when stdout is not a terminal
    const env = { ...process.env, HOME: usableHome(), ...(process.stdout.isTTY ? {} : { NO_COLOR: '1', FORCE_COLOR: '0' }) }
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
    })
    this.child = child
    process.on('exit', () => this.signalGroup('SIGKILL'))
    return new Promise((res) => child.on('exit', (c) => res(c)))
  }
  interrupt(sig: NodeJS.Signals): void {
    if (this.interrupted) return
    this.interrupted = true
    process.stderr.write(`\ncloseout: ${sig} received — stopping the run and writing the summary…\n`)
    this.signalGroup('SIGTERM')
    setTimeout(() => this.signalGroup('SIGKILL'), 5_000).unref()
  }
  /** after vitest's main process ended: no worker of the group may outlive it */
  async reap(): Promise<void> {
    const end = Date.now() + 3_000
    while (this.signalGroup(this.interrupted ? 'SIGKILL' : 'SIGTERM') && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
  }
}

function resolveRunInfo(
  args: Args,
  runId: string,
  earlier: RunInfo | undefined,
  selected: SelectedGate[],
  catalog: CatalogEntry[],
  targetFile: string,
  profile: TargetProfile,
  filter: string | undefined,
): RunInfo {
  const merged = new Map((earlier?.selected ?? []).map((g) => [`${g.suite}.${g.id}`, g]))
  for (const g of selected) merged.set(`${g.suite}.${g.id}`, g)
  // the profile as written (${VAR} references, never their values), validated above: the workers load this copy
  copyFileSync(targetFile, join(runDir(runId, ROOT), 'profile.yaml'))
  return {
    runId,
    target: {
      file: relative(ROOT, targetFile) || targetFile,
      name: profile.name,
      context: profile.kube.context,
      namespace: profile.kube.namespace,
    },
    profileSnapshot: 'profile.yaml',
    startedAt: earlier?.startedAt ?? new Date().toISOString(),
    tagsFilter: filter ?? null,
    selected: [...merged.values()],
    allowMutations: args.allowMutations,
    allowDisruption: args.allowDisruption,
    keepGoing: args.keepGoing,
    interrupted: earlier?.interrupted,
    invocations: (earlier?.invocations ?? 0) + 1,
    owner: profile.owner,
    retryAfterHours: profile.retryAfterHours,
    command: invocationCommand(),
    suiteGates: Object.fromEntries(SUITE_NAMES.map((s) => [s, catalog.filter((g) => g.suite === s).map((g) => g.id)])),
    gitCommit: gitCommit(),
    operator: operatorName(process.env, profile.owner),
  }
}

function fail(message: string, code = EXIT_CODES.USAGE): number {
  process.stderr.write(`closeout: ${message}\n`)
  return code
}

/** The exit code, and the summary the exports (OTLP, webhook) send. */
interface Outcome {
  code: number
  summary?: Summary
}

/** Policy entries naming no gate of the catalogue: a typo would waive nothing, silently (exit 3, key path named). */
function policyProblems(profile: TargetProfile, catalog: CatalogEntry[], targetFile: string): string | undefined {
  const problems = checkPolicyGates(profile.policy, catalog)
  if (!problems.length) return undefined
  return `target profile ${relative(ROOT, targetFile) || targetFile}: ${problems.join('; ')}`
}

async function runGates(args: Args, catalog: CatalogEntry[], targetFile: string, prepared: Prepared): Promise<Outcome> {
  const earlier = args.runId ? readRunInfo(args.runId, ROOT) : undefined
  let sel: ReturnType<typeof selectGates<CatalogEntry>>
  try {
    sel = selectGates(catalog, args.tags, args.filters, {
      runSuites: earlier ? [...new Set(earlier.selected.map((g) => g.suite))] : undefined,
    })
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    return { summary: writeConfigErrorSummary(err.message, args, targetFile, [], prepared), code: fail(err.message) }
  }
  const selected = sel.selected.map(toSelected)
  if (prepared.profileError || !prepared.profile) {
    const message = prepared.profileError?.message ?? 'the target profile could not be loaded'
    process.stderr.write(`closeout: ${message}\n`)
    const summary = writeConfigErrorSummary(message, args, targetFile, selected, prepared)
    printSummary(summary)
    return { summary, code: EXIT_CODES.USAGE }
  }
  const profile = prepared.profile
  if (!selected.length) {
    const msg = `no gate matches ${sel.described ? `"${sel.described}"` : 'the selection'} (see ./closeout test --list)`
    return { summary: writeConfigErrorSummary(msg, args, targetFile, [], prepared), code: fail(msg) }
  }
  const refusal = rehearsalRefusal(args, earlier, selected, profile) ?? policyProblems(profile, catalog, targetFile)
  if (refusal) {
    return { summary: writeConfigErrorSummary(refusal, args, targetFile, selected, prepared), code: fail(refusal) }
  }
  const runId = args.runId ?? newRunId()
  let release: () => void
  try {
    release = lockRun(runId, ROOT)
  } catch (err) {
    if (err instanceof RunLockedError) return { code: fail(err.message) }
    throw err
  }
  process.on('exit', release)
  const info = resolveRunInfo(args, runId, earlier, selected, catalog, targetFile, profile, sel.described)
  writeRunInfo(info, ROOT)
  // in a fleet (bin/fleet.ts) the fleet cleared them once: targets running side by side must not wipe each other's
  if (!earlier && !process.env.CLOSEOUT_FLEET_ID) rmSync(join(reportsDir(ROOT), 'allure-results'), { recursive: true, force: true })
  const summary = await runVitest(args, info, sel.vitestFilter, [...new Set(sel.selected.map((g) => g.file))], profile)
  release()
  if (!args.quiet) printSummary(summary)
  if (summary.interrupted) return { summary, code: EXIT_CODES.BLOCKED }
  if (summary.configError) return { summary, code: EXIT_CODES.USAGE }
  return { summary, code: EXIT_CODES[summary.decision] }
}

async function runVitest(args: Args, info: RunInfo, filter: string | undefined, files: string[], profile: TargetProfile): Promise<Summary> {
  const runId = info.runId
  // the only things that cross the process boundary: the run id and the reports directory
  process.env.CLOSEOUT_RUN_ID = runId
  process.env.CLOSEOUT_REPORTS_DIR = reportsDir(ROOT)
  const vitestArgs = [
    join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--config',
    join(ROOT, 'vitest.config.ts'),
    '--configLoader',
    'runner',
    ...(filter ? ['--tags-filter', filter] : []),
    ...files,
  ]
  if (!args.quiet)
    process.stdout.write(
      `closeout: run ${runId} — target ${profile.name} (${info.target.file}) — ${info.selected.length} gate(s)${info.tagsFilter ? ` — ${info.tagsFilter}` : ''}\n`,
    )
  const gates = new GateProcess()
  const onSignal = (sig: NodeJS.Signals) => {
    // sticky before anything else: whatever a straggler writes later, this run is never GO
    const now = readRunInfo(runId, ROOT)
    if (now && !now.interrupted) writeRunInfo({ ...now, interrupted: true }, ROOT)
    gates.interrupt(sig)
  }
  process.off('SIGINT', early).off('SIGTERM', early)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const code = await gates.start(vitestArgs, args.quiet)
  await gates.reap()
  const after = readRunInfo(runId, ROOT) as RunInfo
  if (!gates.interrupted && code !== 0 && code !== 1)
    writeRunInfo({ ...after, configError: `vitest exited with code ${code}; see the output above` }, ROOT)
  return finalizeRun(runId, {
    owner: profile.owner,
    retryAfterHours: profile.retryAfterHours,
    root: ROOT,
    interrupted: gates.interrupted,
    policy: profile.policy,
  })
}

async function main(): Promise<number> {
  // more than one --target (or --parallel): a fleet, one run of this file per target (bin/fleet.ts)
  if (isFleetArgv(process.argv.slice(2))) return (await import('./fleet.ts')).runFleet(process.argv.slice(2))
  let args: Args
  try {
    args = parseCli(process.argv.slice(2))
  } catch (err) {
    // a mistyped option touches nothing: no summary, no reports/latest
    if (err instanceof UsageError) return fail(err.message)
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
  applyLocalEnv()
  // the workers' redactor hides the value of *_NOTIFY_URL (helpers/redact.ts): a gate can never log the webhook
  if (args.notifyUrl) process.env.CLOSEOUT_NOTIFY_URL = args.notifyUrl
  const outcome = await runGates(args, catalog, targetFile, prepareProfile(targetFile))
  await exportOutcome(outcome, args)
  return outcome.code
}

// a signal before vitest started: nothing ran, the run is BLOCKED (exit 2) like any interrupted one
function early(): void {
  process.exit(EXIT_CODES.BLOCKED)
}
process.on('SIGINT', early)
process.on('SIGTERM', early)

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`closeout: internal error: ${(err as Error)?.message ?? String(err)}\n`)
    process.exit(EXIT_CODES.USAGE)
  },
)
