// `closeout doctor --target F [--tag T]...`: before a first run on a new cluster (or in CI before the
// suite), ask the API server, as the runner's own identity, whether it may do what the selected gates
// need (one SelfSubjectAccessReview per permission), and get an Entra ID token for each Azure scope they
// sign in to. Prints the missing permissions with the Role rule to add.
// Exit codes: 0 everything allowed, 2 something missing (or the check could not run), 3 usage or
// configuration error (unknown option or tag, invalid profile, unreadable kubeconfig).

import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type CatalogEntry, loadCatalog } from '../helpers/catalog.ts'
import { checkPermissions, doctorExitCode, formatDoctorReport } from '../helpers/doctor.ts'
import { KubeConfigError } from '../helpers/kube.ts'
import { loadProfile, ProfileError, resolveTargetPath } from '../helpers/profile.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

const USAGE = `usage: closeout doctor [--target FILE] [--tag TAG]... [--allow-mutations] [--no-azure] [--json]

  --target FILE       target profile (default: $CLOSEOUT_TARGET or fixtures/targets/local.yaml)
  --tag TAG           check the gates with this tag (suite, gate id or classification); default: every gate
  --allow-mutations   also check what consumer-rollout's mutations need (patch / create deployments)
  --no-azure          skip the Entra ID token checks
  --json              print the report as JSON
exit codes: 0 everything allowed, 2 something missing or not checkable, 3 usage or configuration error`

class UsageProblem extends Error {}

function readArgs(argv: string[]) {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string' },
        tag: { type: 'string', multiple: true },
        'allow-mutations': { type: 'boolean' },
        'no-azure': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    })
    return values
  } catch (e) {
    throw new UsageProblem(`${(e as Error).message}\n\n${USAGE}`)
  }
}

/** the gate ids a set of tags selects (every gate without tags), like `pnpm test --tag` */
export function selectGateIds(catalog: CatalogEntry[], tags: string[]): string[] {
  const wanted = tags.flatMap((t) =>
    t
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  const known = new Set(catalog.flatMap((g) => [g.id, g.suite, g.classification]))
  const unknown = wanted.filter((t) => !known.has(t))
  if (unknown.length)
    throw new UsageProblem(`unknown tag ${unknown.map((t) => `"${t}"`).join(', ')}; known tags: ${[...known].sort().join(', ')}`)
  const picked = wanted.length ? catalog.filter((g) => wanted.some((t) => t === g.id || t === g.suite || t === g.classification)) : catalog
  return [...new Set(picked.map((g) => g.id))]
}

export async function runDoctor(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  try {
    const a = readArgs(argv)
    if (a.help) {
      out(`${USAGE}\n`)
      return 0
    }
    const file = resolveTargetPath(a.target, ROOT)
    const profile = loadProfile(file)
    const gates = selectGateIds(await loadCatalog(ROOT), a.tag ?? [])
    const report = await checkPermissions(profile, gates, { allowMutations: a['allow-mutations'], azure: !a['no-azure'] })
    out(a.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctorReport(report)}\n`)
    return doctorExitCode(report)
  } catch (e) {
    if (e instanceof UsageProblem || e instanceof ProfileError || e instanceof KubeConfigError) {
      err(`closeout doctor: ${e.message}\n`)
      return 3
    }
    throw e
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runDoctor(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`closeout doctor: ${(e as Error)?.message ?? String(e)}\n`)
      process.exit(3)
    },
  )
}
