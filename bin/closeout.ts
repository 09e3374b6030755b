// ./closeout's command tree (the bash wrapper ./closeout has already brought Node 24, pnpm and the
// dependencies, then `exec`s here). One parser for every subcommand (bin/_cli.ts): `--opt=value` and
// `--opt value`, --help / -h exits 0 with the usage, an unknown option or command exits 3 before anything
// is touched. Gate runs (test, demo, selftest, list) are children with signal forwarding: Ctrl-C or
// SIGTERM reaches the run once, it writes its summary, and the exit code is the run's (2 when interrupted).
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Command, defineCommand, listSubcommands, runChild, runMain, UsageError } from './_cli.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const node = (script: string, ...args: string[]) => [process.execPath, join(ROOT, script), ...args]
const isTTY = () => Boolean(process.stdout.isTTY)

async function runNode(script: string, args: string[]): Promise<number> {
  return (await runChild(node(script, ...args), { cwd: ROOT })).code
}

const test = defineCommand({
  name: 'test',
  summary: 'run gates: --tag TAG, --target FILE, --run-id ID, --allow-mutations, --allow-disruption, --list (bin/test.ts --help)',
  usage: 'usage: ./closeout test [--tag TAG]... [--target FILE] … (./closeout test --help for every option)',
  // bin/test.ts parses its own arguments (and answers --help); this runs it with signal forwarding
  raw: true,
  run: ({ passthrough }) => runNode('bin/test.ts', passthrough),
})

const list = defineCommand({
  name: 'list',
  summary: 'every gate: id, suite, classification, needs, evidence, check',
  usage: `usage: ./closeout list [--json]

  --json   the catalogue as one JSON document (schemaVersion, gates), for tools`,
  options: { json: { type: 'boolean' } },
  run: ({ values }) => runNode('bin/test.ts', ['--list', ...(values.json ? ['--json'] : [])]),
})

/** Biome (formatter + linter) and the typecheck; both run even when the first fails. */
async function lint(fix: boolean): Promise<number> {
  const b = await runChild(
    [
      ...node('node_modules/@biomejs/biome/bin/biome'),
      'check',
      ...(fix ? ['--write'] : []),
      ...(isTTY() ? [] : ['--colors=off']),
      '--max-diagnostics=30',
      ROOT,
    ],
    { cwd: ROOT },
  )
  if (b.interrupted) return b.code
  const t = await runChild(
    node('node_modules/typescript/bin/tsc', '--noEmit', '--pretty', String(isTTY()), '-p', join(ROOT, 'tsconfig.json')),
    { cwd: ROOT },
  )
  if (t.interrupted) return t.code
  const failed = [b.code !== 0 && 'biome check', t.code !== 0 && 'tsc --noEmit'].filter(Boolean)
  if (failed.length)
    process.stderr.write(
      `closeout lint: ${failed.join(' and ')} failed (see above)${fix ? '' : '; ./closeout lint --fix applies the formatting'}\n`,
    )
  else process.stdout.write('closeout lint: biome check and tsc --noEmit clean\n')
  return failed.length ? 1 : 0
}

const lintCommand = defineCommand({
  name: 'lint',
  summary: 'biome check (format + lint) and tsc --noEmit; --fix writes the formatting',
  usage: `usage: ./closeout lint [--fix]

  --fix   let biome write its formatting and safe fixes (the files its formatter covers, see biome.jsonc)
exit 0 clean, 1 a finding`,
  options: { fix: { type: 'boolean' } },
  run: ({ values }) => lint(Boolean(values.fix)),
})

const selftest = defineCommand({
  name: 'selftest',
  summary: "the project's own tests: lint, then unit + end-to-end fault matrix (vitest)",
  usage: `usage: ./closeout selftest [FILE_FILTER]... [-- VITEST_ARGS]

  FILE_FILTER    run only the test files matching it (vitest's filter), e.g. tests/unit/cli.test.ts
  -- ARGS        passed to vitest unchanged, e.g. -- -t "exit code"
./closeout lint runs first; a finding stops before the tests. Exit 0 all passed, 1 a failure, 2 interrupted.`,
  maxPositionals: Number.POSITIVE_INFINITY,
  passthrough: true,
  run: async ({ positionals, passthrough }) => {
    const l = await lint(false)
    if (l !== 0) return l
    return runNode('node_modules/vitest/vitest.mjs', [
      'run',
      '--config',
      join(ROOT, 'tests/vitest.config.ts'),
      ...positionals,
      ...passthrough,
    ])
  },
})

const demo = defineCommand({
  name: 'demo',
  summary: 'local environment up, the F3-4 closeout suite, the decision, the report',
  usage: `usage: ./closeout demo [--fault NAME]...

  --fault NAME   start the local environment with a fault (./closeout env up --help lists them)
exit codes: 0 GO, 1 NO_GO, 2 BLOCKED or interrupted, 3 usage or configuration error`,
  options: { fault: { type: 'string', multiple: true } },
  run: async ({ values }) => {
    const say = (s: string) => process.stdout.write(`closeout demo: ${s}\n`)
    say('1/3 starting the local environment (./closeout env up)…')
    const up = await runChild(node('fixtures/local-env/env.ts', 'up', ...(values.fault ?? []).flatMap((f) => ['--fault', f])), {
      cwd: ROOT,
    })
    if (up.interrupted) return up.code
    if (up.code !== 0) {
      process.stderr.write('closeout demo: the local environment did not start; see above (./closeout env status)\n')
      return up.code === 3 ? 3 : 2
    }
    say('2/3 running the F3-4 closeout suite (./closeout test --tag closeout)…')
    const run = await runChild(node('bin/test.ts', '--tag', 'closeout'), { cwd: ROOT })
    if (run.interrupted) return run.code
    say('3/3 rendering the Allure report (./closeout report)…')
    const report = await runChild(node('bin/report.ts'), { cwd: ROOT })
    if (report.interrupted) return report.code
    process.stdout.write(
      `\ncloseout demo: done (exit ${run.code}). Read reports/latest/summary.json, the bundle under reports/evidence/, the report in reports/allure-report/.\nThe local environment is still up: ./closeout env down stops it.\n`,
    )
    return run.code
  },
})

/** A module's `runX(argv)` entry (it parses its own arguments), run in this process, imported only when it runs. */
function inProcess(name: string, summary: string, file: string, exportName: string, usage: string, answersHelp = false) {
  return defineCommand({
    name,
    summary,
    usage,
    raw: true,
    run: async ({ passthrough }) => {
      // verify and diff have no --help of their own (they would call it an unknown option, exit 3)
      if (!answersHelp && passthrough.some((a) => a === '--help' || a === '-h')) return (process.stdout.write(`${usage}\n`), 0)
      if (!existsSync(join(ROOT, file))) throw new UsageError(`${file} is not in this checkout`)
      const m = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, (argv: string[]) => number | Promise<number>>
      try {
        return await m[exportName](passthrough)
      } catch (e) {
        // an error the module did not classify: one line, no stack, "could not check" rather than a verdict
        process.stderr.write(`closeout ${name}: ${(e as Error)?.message ?? String(e)}\n`)
        return 3
      }
    },
  })
}

const doctor = inProcess(
  'doctor',
  'before a first run on a cluster: may the runner do what the gates need? [--target FILE] [--tag TAG]... [--json]',
  'bin/doctor.ts',
  'runDoctor',
  'usage: ./closeout doctor [--target FILE] [--tag TAG]... [--allow-mutations] [--no-azure] [--json]',
  true,
)
const verify = inProcess(
  'verify',
  'check an evidence bundle offline: manifest, attestation, signature: BUNDLE|RUN_ID [--key PUB] [--json]',
  'bin/verify.ts',
  'runVerify',
  `usage: ./closeout verify BUNDLE_DIR|RUN_ID [--key PUBLIC_KEY.pem] [--json]

  BUNDLE_DIR|RUN_ID   a bundle under reports/evidence/, or a run id (every bundle of that run)
  --key FILE          the PEM public key the attestation must be signed with
  --json              the result per bundle as JSON
exit codes: 0 verified, 1 tampered (each problem names the file), 3 usage or unreadable key`,
)
const diff = inProcess(
  'diff',
  'compare two runs: status, classification, durations, values: RUN_A RUN_B [--threshold-pct N] [--min-ms N] [--json]',
  'bin/diff.ts',
  'runDiff',
  `usage: ./closeout diff RUN_A RUN_B [--threshold-pct 50] [--min-ms 200] [--json]

  RUN_A RUN_B          run ids (reports/runs/<id>/) or bundle directories: before, then now
  --threshold-pct N    a gate's duration counts as regressed above N % slower (default 50)
  --min-ms N           … and at least N ms slower (default 200)
  --json               the comparison as JSON
exit codes: 0 no differences, 1 differences, 3 usage`,
)

const sbom = defineCommand({
  name: 'sbom',
  summary: "CycloneDX SBOM of the image's production dependencies [--out FILE]",
  usage: `usage: ./closeout sbom [--out FILE]

  --out FILE   where to write it (default reports/sbom/closeout-image.cdx.json)`,
  options: { out: { type: 'string' } },
  run: ({ values }) => runNode('ci/sbom.ts', values.out ? ['--out', resolve(values.out)] : []),
})

/** A subcommand implemented in another module, imported only when it runs. */
function lazy(summary: string, file: string, exportName: string) {
  return {
    summary,
    load: async () => {
      if (!existsSync(join(ROOT, file))) throw new UsageError(`${file} is not in this checkout`)
      const m = (await import(pathToFileURL(join(ROOT, file)).href)) as Record<string, Command>
      return m[exportName]
    },
  }
}

const subcommands = {
  demo,
  selftest,
  lint: lintCommand,
  env: lazy('the local environment: up [--fault NAME]... | down | status', 'fixtures/local-env/env.ts', 'envCommand'),
  test,
  list,
  doctor,
  verify,
  diff,
  // fleet: a fleet run is `test --target A --target B [--parallel N]` (bin/test.ts hands it to bin/fleet.ts), so it needs
  // no entry here; a separate `fleet` command would go here as lazy('…', 'bin/fleet.ts', 'fleetCommand')
  sbom,
  report: lazy('render reports/allure-report with the Allure 3 CLI: [--single-file] [--open [--port N]]', 'bin/report.ts', 'reportCommand'),
  job: lazy('job render --target FILE --tag TAG …: a Kubernetes Job manifest for an in-cluster run', 'bin/job.ts', 'jobCommand'),
  bench: lazy('benchmarks against the local environment → reports/bench/ [--readme]', 'tests/bench/run.ts', 'benchCommand'),
  docs: lazy('regenerate the README gate list and the profile key reference [--check]', 'bin/docs.ts', 'docsCommand'),
}

export const rootUsage = `closeout — runbooks as executable, tagged test gates

usage: ./closeout COMMAND [OPTIONS]   (./closeout COMMAND --help for its options)

${listSubcommands(subcommands, '')}
  help       this text
  pnpm ARGS  pnpm with the project's toolchain;  node ARGS  the project's Node

exit codes of test/demo: 0 GO, 1 NO_GO, 2 BLOCKED (or interrupted), 3 usage or configuration error`

const help = defineCommand({ name: 'help', summary: 'this text', usage: rootUsage, run: () => (process.stdout.write(`${rootUsage}\n`), 0) })

export const rootCommand = defineCommand({
  name: '',
  summary: 'closeout',
  usage: rootUsage,
  subcommands: { ...subcommands, help },
  // `./closeout` alone prints the usage
  run: () => (process.stdout.write(`${rootUsage}\n`), 0),
})

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runMain(rootCommand)
