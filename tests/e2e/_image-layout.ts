// The image without Docker: deploy/Dockerfile is parsed (not trusted from memory), its runtime stage is
// laid out in a directory exactly as its COPY lines say (node_modules from the deps stage's prod install
// with the lockfile), and its ENTRYPOINT is run read-only as a uid with no passwd entry. Only the
// instructions the Dockerfile's header comment allows are understood; anything else fails the layout,
// so a Dockerfile change the smoke test cannot follow is noticed instead of silently ignored.

import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join, posix } from 'node:path'

export interface Instruction {
  op: string
  args: string
  line: number
}
export interface Stage {
  name: string
  from: string
  instructions: Instruction[]
}

/** Split a Dockerfile into stages (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1
    let l = lines[i]
    while (/\\\s*$/.test(l) && i + 1 < lines.length) l = l.replace(/\\\s*$/, ' ') + lines[++i].trim()
    const t = l.trim()
    if (!t || t.startsWith('#')) continue
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(t) ?? []
    if (!op) throw new Error(`deploy/Dockerfile:${start}: cannot read "${t}"`)
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      stages.push({ from: m?.[1] ?? args, name: m?.[2] ?? String(stages.length), instructions: [] })
    } else if (!stages.length) {
      if (op.toUpperCase() !== 'ARG') throw new Error(`deploy/Dockerfile:${start}: ${op} before the first FROM`)
    } else stages.at(-1)!.instructions.push({ op: op.toUpperCase(), args, line: start })
  }
  return stages
}

export interface Copy {
  from?: string
  sources: string[]
  dest: string
  line: number
}
export interface RuntimeSpec {
  workdir: string
  user?: string
  env: Record<string, string>
  entrypoint: string[]
  cmd: string[]
  copies: Copy[]
}

function parseCopy(ins: Instruction): Copy {
  const words = ins.args.split(/\s+/)
  const flags = words.filter((w) => w.startsWith('--'))
  const paths = words.filter((w) => !w.startsWith('--'))
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length)
  const unknown = flags.filter((f) => !f.startsWith('--from='))
  if (unknown.length || paths.length < 2)
    throw new Error(`deploy/Dockerfile:${ins.line}: COPY ${ins.args}: only COPY [--from=STAGE] SRC... DEST is understood`)
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)!, line: ins.line }
}

function parseEnv(args: string, into: Record<string, string>): void {
  for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) into[m[1]] = m[2].replace(/^"|"$/g, '')
}

/** What the runtime (last) stage declares; an instruction the layout cannot emulate is an error. */
export function runtimeSpec(stage: Stage): RuntimeSpec {
  const spec: RuntimeSpec = { workdir: '/', env: {}, entrypoint: [], cmd: [], copies: [] }
  for (const ins of stage.instructions) {
    if (ins.op === 'COPY') spec.copies.push(parseCopy(ins))
    else if (ins.op === 'WORKDIR') spec.workdir = posix.resolve(spec.workdir, ins.args)
    else if (ins.op === 'USER') spec.user = ins.args
    else if (ins.op === 'ENV') parseEnv(ins.args, spec.env)
    else if (ins.op === 'ENTRYPOINT') spec.entrypoint = JSON.parse(ins.args) as string[]
    else if (ins.op === 'CMD') spec.cmd = JSON.parse(ins.args) as string[]
    else if (ins.op !== 'ARG' && ins.op !== 'LABEL')
      throw new Error(
        `deploy/Dockerfile:${ins.line}: ${ins.op} in the runtime stage: the image smoke test cannot lay it out (see the Dockerfile's header)`,
      )
  }
  return spec
}

/** The deps stage: its COPY lines into `dir`, then its `pnpm install` RUN line with the project's pnpm,
 * offline from the local store (the same lockfile, so the same tree). Other RUN lines install pnpm. */
export function buildDepsStage(stage: Stage, root: string, dir: string, pnpm: string): string {
  let workdir = '/'
  for (const ins of stage.instructions) {
    if (ins.op === 'WORKDIR') workdir = posix.resolve(workdir, ins.args)
    else if (ins.op === 'COPY') {
      const c = parseCopy(ins)
      mkdirSync(join(dir, workdir), { recursive: true })
      for (const s of c.sources) cpSync(join(root, s), join(dir, workdir, c.dest.endsWith('/') ? s : c.dest), { recursive: true })
    } else if (ins.op === 'RUN' && /\bpnpm install\b/.test(ins.args)) {
      const args = ins.args
        .replace(/^.*?\bpnpm install\b/, '')
        .trim()
        .split(/\s+/)
      const cwd = join(dir, workdir)
      mkdirSync(cwd, { recursive: true })
      const r = spawnSync(pnpm, ['install', ...args, '--offline', '--reporter=silent'], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, CI: '1' },
      })
      if (r.status !== 0)
        throw new Error(
          `deps stage (deploy/Dockerfile:${ins.line}): pnpm install ${args.join(' ')} --offline failed:\n${r.stdout}${r.stderr}`,
        )
    }
  }
  return join(dir, workdir)
}

/** Lay the runtime stage out in `app` (= its WORKDIR). Returns the spec it followed. */
export function layoutRuntime(dockerfile: string, root: string, app: string, pnpm: string): RuntimeSpec {
  const stages = parseDockerfile(dockerfile)
  const spec = runtimeSpec(stages.at(-1)!)
  rmSync(app, { recursive: true, force: true })
  mkdirSync(app, { recursive: true })
  const built = new Map<string, string>()
  for (const c of spec.copies) {
    const dest = join(app, posix.relative(spec.workdir, posix.resolve(spec.workdir, c.dest)))
    for (const s of c.sources) {
      const target = c.dest.endsWith('/') ? join(dest, posix.basename(s)) : dest
      if (c.from) {
        const stage = stages.find((x) => x.name === c.from)
        if (!stage) throw new Error(`deploy/Dockerfile:${c.line}: no stage "${c.from}"`)
        if (!built.has(c.from)) built.set(c.from, buildDepsStage(stage, root, `${app}.stage-${c.from}`, pnpm))
        const src = join(`${app}.stage-${c.from}`, s)
        if (!existsSync(src)) throw new Error(`deploy/Dockerfile:${c.line}: ${s} does not exist in stage ${c.from}`)
        // a rename keeps pnpm's relative symlinks valid and costs nothing
        renameSync(src, target)
      } else {
        if (!existsSync(join(root, s))) throw new Error(`deploy/Dockerfile:${c.line}: ${s} is not in the build context`)
        mkdirSync(posix.dirname(target), { recursive: true })
        cpSync(join(root, s), target, { recursive: true })
      }
    }
  }
  for (const dir of built.keys()) rmSync(`${app}.stage-${dir}`, { recursive: true, force: true })
  return spec
}
