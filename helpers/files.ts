// Every file under a directory, sorted, as absolute paths: the one walk the bundle writer (MANIFEST.sha256)
// and the offline verifier share, so both see the same files in the same order.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export function listFilesDeep(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else out.push(p)
    }
  }
  walk(dir)
  return out
}
