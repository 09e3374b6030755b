// A run id or a bundle directory, as the operator types it (`closeout verify 20261201_215918`,
// `closeout diff reports/evidence/…_f3_4_runtime_closeout …`), resolved to bundle directories.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { reportsDir } from './run-state.ts'

/** A directory is taken as is; otherwise every reports/evidence/<runId>_* bundle of that run id. */
export function resolveBundles(arg: string, root = process.cwd(), reports = reportsDir(root)): string[] {
  const p = resolve(root, arg)
  if (existsSync(p) && statSync(p).isDirectory()) return [p]
  const evidence = join(reports, 'evidence')
  if (!existsSync(evidence)) return []
  return readdirSync(evidence)
    .filter((n) => n.startsWith(`${arg}_`))
    .sort()
    .map((n) => join(evidence, n))
}
