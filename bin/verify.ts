// closeout verify BUNDLE|RUN_ID [--key PUBLIC_KEY.pem] [--json]
// Offline: every file against MANIFEST.sha256, the manifest against the attested subjects, the DSSE
// signatures against the key. Exit 0 verified, 1 tampered (each problem names the file), 3 usage.
import { pathToFileURL } from 'node:url'
import { SigningKeyError } from '../helpers/attest.ts'
import { resolveBundles } from '../helpers/bundle-paths.ts'
import { type VerifyResult, verifyBundle } from '../helpers/verify-bundle.ts'

const USAGE = 'usage: closeout verify BUNDLE_DIR|RUN_ID [--key PUBLIC_KEY.pem] [--json]'

export function parseVerifyArgs(argv: string[]): { target: string; key?: string; json: boolean } | string {
  let key: string | undefined
  let json = false
  const pos: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--key') {
      key = argv[++i]
      if (!key) return '--key needs a PEM public key file'
    } else if (a.startsWith('--key=')) key = a.slice(6)
    else if (a === '--json') json = true
    else if (a.startsWith('-')) return `unknown option ${a}`
    else pos.push(a)
  }
  if (pos.length !== 1) return 'give exactly one bundle directory or run id'
  return { target: pos[0], key, json }
}

function printResult(dir: string, r: VerifyResult): void {
  const head = !r.ok ? `TAMPERED ${dir}` : r.signedBy ? `VERIFIED ${dir}` : `VERIFIED ${dir} (unsigned: integrity only, no origin)`
  const lines = [
    head,
    ...(r.decision ? [`  decision (attested): ${r.decision}`] : []),
    ...(r.signedBy ? [`  signature: ${r.signedBy}`] : []),
  ]
  lines.push(...r.problems.map((p) => `  FAIL ${p}`), ...r.notes.map((n) => `  note ${n}`))
  process.stdout.write(lines.join('\n') + '\n')
}

export function runVerify(argv: string[]): number {
  const args = parseVerifyArgs(argv)
  if (typeof args === 'string') {
    process.stderr.write(`closeout verify: ${args}\n${USAGE}\n`)
    return 3
  }
  const dirs = resolveBundles(args.target)
  if (!dirs.length) {
    process.stderr.write(
      `closeout verify: no bundle directory or run id "${args.target}" (bundles are under reports/evidence/)\n${USAGE}\n`,
    )
    return 3
  }
  let ok = true
  const results: Record<string, VerifyResult> = {}
  for (const dir of dirs) {
    try {
      const r = verifyBundle(dir, args.key)
      results[dir] = r
      ok &&= r.ok
      if (!args.json) printResult(dir, r)
    } catch (err) {
      if (err instanceof SigningKeyError) {
        process.stderr.write(`closeout verify: ${err.message}\n`)
        return 3
      }
      throw err
    }
  }
  if (args.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
  return ok ? 0 : 1
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(runVerify(process.argv.slice(2)))
