// Plain JavaScript on purpose: it must run on any Node, before a .ts entry point that an old Node
// cannot load (ERR_UNKNOWN_FILE_EXTENSION). The floor is package.json's engines.node: .ts entry points
// run unflagged from Node 22.18, and undici 8 (used by @kubernetes/client-node) declares >= 22.19.
// Exit 3 (usage / configuration error) with one line; `./closeout` brings Node 24 by itself.
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const floor = String(pkg.engines?.node ?? '').replace(/^>=\s*/, '')
const [wantMajor = 0, wantMinor = 0] = floor.split('.').map(Number)
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < wantMajor || (major === wantMajor && minor < wantMinor)) {
  process.stderr.write(
    `closeout: Node ${process.versions.node} is older than ${floor} (package.json engines.node); use Node 24 (.nvmrc), or run ./closeout, which brings Node 24 into .tools/\n`,
  )
  process.exit(3)
}
