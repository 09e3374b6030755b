// The one command-line mechanism of ./closeout (citty's shape on node:util parseArgs, no dependency):
// a command is a value — name, usage, options, run — built with defineCommand(); runCommand() parses
// argv strictly (`--opt=value` and `--opt value` alike), answers --help / -h with the command's usage
// (exit 0), turns an unknown option, a missing value or a stray argument into a UsageError (exit 3,
// usage on stderr, before the command has touched anything), and dispatches subcommands.
// runChild() runs a child program with signal forwarding, the way the wrapper runs tests and demos.
import { spawn } from 'node:child_process'
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'

/** Exit code of a usage error, as for `pnpm test` (DESIGN.md: 3 usage or configuration error). */
export const USAGE_EXIT = 3
/** Exit code of an interrupted run (DESIGN.md: an interrupted run is BLOCKED, exit 2). */
export const INTERRUPTED_EXIT = 2

export class UsageError extends Error {
  override name = 'UsageError'
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>

export interface CommandContext<O extends ParseArgsOptionsConfig> {
  values: Parsed<O>['values']
  positionals: string[]
  /** arguments after a literal `--`, passed through untouched (selftest → vitest) */
  passthrough: string[]
}

export interface Command<O extends ParseArgsOptionsConfig = ParseArgsOptionsConfig> {
  /** the full command as typed after ./closeout, e.g. "env up" */
  name: string
  /** one line for the parent's command list */
  summary: string
  /** the usage text printed by --help and after a usage error */
  usage: string
  options?: O
  /** positional arguments: at most this many (default 0: any positional is a usage error) */
  maxPositionals?: number
  /** `--` ends parsing and the rest goes to ctx.passthrough (default: `--` is a usage error) */
  passthrough?: boolean
  /** hand argv to run() unparsed (as ctx.passthrough): a child program parses its own arguments */
  raw?: boolean
  /** subcommands by name; a command with subcommands and no run needs one of them */
  subcommands?: Record<string, Command | LazyCommand>
  run?: (ctx: CommandContext<O>) => number | Promise<number>
}

/** A subcommand whose module is imported only when it is used (`./closeout help` loads no client). */
export interface LazyCommand {
  summary: string
  load: () => Promise<Command>
}

const isLazy = (c: Command | LazyCommand): c is LazyCommand => 'load' in c

/** Exists for type inference (citty's defineCommand): returns its argument. */
export function defineCommand<O extends ParseArgsOptionsConfig>(c: Command<O>): Command<O> {
  return c
}

const HELP_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const satisfies ParseArgsOptionsConfig

/** node:util's messages, made short and shell-like ("unknown option --x"). */
function usageMessage(e: Error & { code?: string }, argv: string[]): string {
  const opt = /'(-[^' ]+)/.exec(e.message)?.[1] ?? ''
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt || argv.find((a) => a.startsWith('-')) || ''}`.trim()
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${/'([^']*)'/.exec(e.message)?.[1] ?? ''}"`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message)) return `${opt} takes no value`
      if (/ambiguous/.test(e.message)) return `${opt} needs a value (write ${opt}=VALUE when the value starts with "-")`
      return `${opt} needs a value`
    default:
      return e.message
  }
}

/** Parses argv for one command; throws UsageError (never a TypeError from node:util). */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(cmd: Command<O>, argv: string[]): CommandContext<O> & { help: boolean } {
  if (cmd.raw) return { values: {} as Parsed<O>['values'], positionals: [], passthrough: argv, help: false }
  const dash = argv.indexOf('--')
  if (dash >= 0 && !cmd.passthrough) throw new UsageError(`unexpected "--": ${cmd.name} passes nothing through`)
  const own = dash >= 0 ? argv.slice(0, dash) : argv
  const options = { ...(cmd.options ?? {}), ...HELP_OPTIONS } as O & typeof HELP_OPTIONS
  let parsed: Parsed<O & typeof HELP_OPTIONS>
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(usageMessage(e as Error & { code?: string }, own))
  }
  const { help, ...values } = parsed.values as Record<string, unknown>
  if (help) return { values: values as Parsed<O>['values'], positionals: [], passthrough: [], help: true }
  const max = cmd.maxPositionals ?? 0
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals[max]
    throw new UsageError(extra.startsWith('-') ? `unknown option ${extra}` : `unexpected argument "${extra}"`)
  }
  for (const [k, v] of Object.entries(values)) {
    // `--target ""` / `--target=` is as good as no value
    if (v === '' || (Array.isArray(v) && v.includes(''))) throw new UsageError(`--${k} needs a value`)
  }
  return {
    values: values as Parsed<O>['values'],
    positionals: parsed.positionals,
    passthrough: dash >= 0 ? argv.slice(dash + 1) : [],
    help: false,
  }
}

/** The command list of a command with subcommands, for its usage text. */
export function listSubcommands(subcommands: Record<string, Command | LazyCommand>, prefix = ''): string {
  const width = Math.max(...Object.keys(subcommands).map((n) => n.length)) + 2
  return Object.entries(subcommands)
    .map(([name, c]) => `  ${prefix}${name.padEnd(width)} ${c.summary}`)
    .join('\n')
}

/** Runs a command tree on argv and returns the exit code; never throws a UsageError at the caller. */
export async function runCommand(
  cmd: Command,
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let current: Command = cmd
  let rest = argv
  try {
    // walk down the subcommands: the first word that is not an option names the next one
    while (current.subcommands && rest[0] && !rest[0].startsWith('-')) {
      const next = current.subcommands[rest[0]]
      if (!next) throw new UsageError(`unknown command "${rest[0]}"${current.name ? ` for ${current.name}` : ''}`)
      current = isLazy(next) ? await next.load() : next
      rest = rest.slice(1)
    }
    const ctx = parseCommandArgs(current, rest)
    if (ctx.help) {
      out.write(`${current.usage}\n`)
      return 0
    }
    if (!current.run) throw new UsageError(`${current.name} needs a command: ${Object.keys(current.subcommands ?? {}).join(' | ')}`)
    return await current.run(ctx)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    err.write(`closeout${current.name ? ` ${current.name}` : ''}: ${e.message}\n\n${current.usage}\n`)
    return USAGE_EXIT
  }
}

/** Entry for a script: runs the command, prints a non-usage error as one line (no stack), exits.
 * `errorExit` maps an error to its exit code (default 1). */
export function runMain(cmd: Command, argv = process.argv.slice(2), errorExit: (e: unknown) => number = () => 1): void {
  runCommand(cmd, argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`closeout${cmd.name ? ` ${cmd.name}` : ''}: ${(e as Error)?.message ?? String(e)}\n`)
      process.exit(errorExit(e))
    },
  )
}

/** The children's environment: no colour codes when our stdout is not a terminal (piped, CI logs),
 * unless the caller asked for colour with FORCE_COLOR. */
export function childEnv(env: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stdout.isTTY)): NodeJS.ProcessEnv {
  if (isTTY || env.FORCE_COLOR) return { ...env }
  return { ...env, NO_COLOR: '1' }
}

export interface ChildResult {
  /** the code to exit with: the child's, or INTERRUPTED_EXIT when it ended by a signal */
  code: number
  interrupted: boolean
}

/** Runs a program as a child in its own process group. SIGINT / SIGTERM received here go to that group
 * (a Ctrl-C from the terminal reaches this process only, so the child sees it once); the third one
 * SIGKILLs the group. Resolves with the child's exit code; a child that ended by a signal, or the
 * shell convention for one (130, 143) after an interrupt, gives INTERRUPTED_EXIT. */
export function runChild(
  argv: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: 'inherit' | 'ignore' } = {},
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: o.cwd,
      env: o.env ?? childEnv(),
      stdio: ['ignore', o.stdout ?? 'inherit', 'inherit'],
      detached: true,
    })
    let signals = 0
    const forward = (sig: NodeJS.Signals) => {
      signals++
      const pid = child.pid
      if (!pid) return
      try {
        process.kill(-pid, signals >= 3 ? 'SIGKILL' : sig)
      } catch {
        /* the group is gone already */
      }
    }
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    const done = (r: ChildResult) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      resolve(r)
    }
    child.on('error', (e) => {
      process.stderr.write(`closeout: could not run ${argv[0]}: ${e.message}\n`)
      done({ code: USAGE_EXIT, interrupted: false })
    })
    child.on('exit', (code, signal) => {
      const interrupted = signals > 0
      if (signal) {
        if (!interrupted) process.stderr.write(`closeout: ${argv.slice(0, 3).join(' ')} was killed by ${signal}\n`)
        return done({ code: INTERRUPTED_EXIT, interrupted: true })
      }
      const c = code ?? INTERRUPTED_EXIT
      done({ code: interrupted && (c === 130 || c === 143) ? INTERRUPTED_EXIT : c, interrupted })
    })
  })
}
