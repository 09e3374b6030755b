// ./closeout subcommands that are not package.json scripts: demo, selftest, env, job, list.
// (The bash wrapper ./closeout has already brought Node 24, pnpm and the dependencies.)
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

const HELP = `closeout — runbooks as executable, tagged test gates

  ./closeout demo                      bring up the local environment, run the closeout suite, print the decision, write the report
  ./closeout selftest                  the project's own tests (unit + end-to-end fault matrix)
  ./closeout env up [--fault NAME]...  start the local environment (cluster simulator + reference stack); down | status
  ./closeout test --tag closeout       run gates (pnpm test): --tag, --target, --run-id, --allow-mutations, --allow-disruption, --list
  ./closeout list                      every gate: id, suite, classification, needs, evidence, check
  ./closeout report [--single-file]    render reports/allure-report with the Allure 3 CLI
  ./closeout job render --target F --tag T [--workload-identity ID]   print a Kubernetes Job manifest for an in-cluster run
  ./closeout bench                     benchmarks → reports/bench/
  ./closeout SCRIPT ARGS               any package.json script with the project's toolchain
exit codes of test/demo: 0 GO, 1 NO_GO, 2 BLOCKED, 3 usage or configuration error`

function run(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, stdio: 'inherit', env })
  if (r.error) {
    process.stderr.write(`closeout: could not run ${argv.join(' ')}: ${r.error.message}\n`)
    return 3
  }
  return r.status ?? (r.signal ? 128 + 15 : 3)
}

function requireFile(rel: string, what: string): string {
  const p = join(ROOT, rel)
  if (!existsSync(p)) {
    process.stderr.write(`closeout: ${what} is not available in this checkout (${rel} missing)\n`)
    process.exit(3)
  }
  return p
}

function main(): number {
  const [cmd = 'help', ...rest] = process.argv.slice(2)
  switch (cmd) {
    case 'env':
      return run([requireFile('fixtures/local-env/env.ts', 'the local environment'), ...rest])
    case 'job':
      return run([requireFile('bin/job.ts', 'the Job renderer'), ...rest])
    case 'list':
      return run([join(ROOT, 'bin/test.ts'), '--list'])
    case 'selftest': {
      const tc = run([join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', join(ROOT, 'tsconfig.json')])
      if (tc !== 0) {
        process.stderr.write('closeout: typecheck failed (tsc --noEmit)\n')
        return 1
      }
      return run([join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(ROOT, 'tests/vitest.config.ts'), ...rest])
    }
    case 'demo': {
      const faults = rest.filter((a, i) => rest[i - 1] === '--fault')
      process.stdout.write('closeout demo: 1/3 starting the local environment (./closeout env up)…\n')
      const up = run([requireFile('fixtures/local-env/env.ts', 'the local environment'), 'up', ...faults.flatMap((f) => ['--fault', f])])
      if (up !== 0) {
        process.stderr.write('closeout demo: the local environment did not start; see above (./closeout env status)\n')
        return up === 3 ? 3 : 2
      }
      process.stdout.write('closeout demo: 2/3 running the F3-4 closeout suite (./closeout test --tag closeout)…\n')
      const code = run([join(ROOT, 'bin/test.ts'), '--tag', 'closeout'])
      process.stdout.write('closeout demo: 3/3 rendering the Allure report (./closeout report)…\n')
      if (existsSync(join(ROOT, 'bin/report.ts'))) run([join(ROOT, 'bin/report.ts')])
      process.stdout.write(
        `\ncloseout demo: done (exit ${code}). Read reports/latest/summary.json, the bundle under reports/evidence/, the report in reports/allure-report/.\nThe local environment is still up: ./closeout env down stops it.\n`,
      )
      return code
    }
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(HELP + '\n')
      return 0
    default:
      process.stderr.write(`closeout: unknown command "${cmd}"\n\n${HELP}\n`)
      return 3
  }
}

process.exit(main())
