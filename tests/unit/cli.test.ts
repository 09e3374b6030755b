// The command-line contract of ./closeout (bin/closeout.ts and bin/_cli.ts), as an operator meets it:
// every subcommand answers --help / -h with its usage and exit 0; an unknown option, command or stray
// argument exits 3 with the usage and leaves reports/latest/summary.json alone; `--opt=value` and
// `--opt value` parse the same; children run in their own process group with signals forwarded and the
// run's exit code returned (2 when interrupted); nothing the wrapper prints through a pipe carries ANSI codes.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { childEnv, defineCommand, parseCommandArgs, runCommand, UsageError } from '../../bin/_cli.ts'
import { rootCommand } from '../../bin/closeout.ts'
import { benchCommand } from '../bench/run.ts'
import { ROOT } from '../e2e/_run.ts'

const ESC = '\x1b['

function closeout(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/closeout.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }
}

/** every command path of the tree that parses its own options (test hands its arguments to bin/test.ts) */
const COMMANDS = [
  ['demo'],
  ['selftest'],
  ['lint'],
  ['env'],
  ['env', 'up'],
  ['env', 'down'],
  ['env', 'status'],
  ['job'],
  ['job', 'render'],
  ['report'],
  ['bench'],
  ['docs'],
  ['list'],
  ['sbom'],
  ['help'],
]

/** commands whose module parses its own arguments (run in-process from bin/closeout.ts) */
const SELF_PARSING = [['doctor'], ['verify'], ['diff']]

const LATEST = join(ROOT, 'reports/latest/summary.json')

describe('./closeout command tree', { timeout: 120_000 }, () => {
  test('every subcommand answers --help and -h with its usage, exit 0, on stdout', () => {
    for (const cmd of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const r = closeout([...cmd, flag])
        expect(r.code, `${cmd.join(' ')} ${flag}: ${r.stderr}`).toBe(0)
        expect(r.stdout, cmd.join(' ')).toMatch(/usage: /)
        expect(r.stderr, cmd.join(' ')).toBe('')
      }
    }
    // test's options belong to bin/test.ts; the wrapper hands --help through and returns its exit code
    const t = closeout(['test', '--help'])
    expect(t.code).toBe(0)
    expect(t.stdout).toMatch(/--tag TAG/)
  })

  test('an unknown option, command or argument exits 3 with the usage and leaves reports/latest/summary.json untouched', () => {
    if (!existsSync(LATEST)) {
      mkdirSync(join(ROOT, 'reports/latest'), { recursive: true })
      writeFileSync(LATEST, '{"decision":"GO","note":"written by cli.test.ts"}\n')
    }
    const before = { text: readFileSync(LATEST, 'utf8'), mtime: statSync(LATEST).mtimeMs }
    for (const cmd of COMMANDS) {
      const r = closeout([...cmd, '--bogus-option'])
      expect(r.code, `${cmd.join(' ')} --bogus-option: ${r.stdout}${r.stderr}`).toBe(3)
      expect(r.stderr, cmd.join(' ')).toContain('unknown option --bogus-option')
      expect(r.stderr, cmd.join(' ')).toMatch(/usage: /)
      expect(r.stderr, cmd.join(' ')).not.toMatch(/\n\s+at /)
    }
    for (const args of [
      ['bogus'],
      ['env', 'bogus'],
      ['job', 'bogus'],
      ['docs', 'stray'],
      ['env', 'up', '--fault'],
      ['docs', '--check=yes'],
      ['demo', '--', 'x'],
    ]) {
      const r = closeout(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3)
      expect(r.stderr, args.join(' ')).toMatch(/usage: /)
    }
    expect(readFileSync(LATEST, 'utf8')).toBe(before.text)
    expect(statSync(LATEST).mtimeMs).toBe(before.mtime)
  })

  test('doctor, verify and diff answer --help with exit 0 and an unknown option with exit 3 and their usage', () => {
    for (const cmd of SELF_PARSING) {
      for (const flag of ['--help', '-h']) {
        const r = closeout([...cmd, flag])
        expect(r.code, `${cmd.join(' ')} ${flag}: ${r.stderr}`).toBe(0)
        expect(r.stdout, cmd.join(' ')).toMatch(new RegExp(`usage: (\\./)?closeout ${cmd[0]} `))
      }
      const bad = closeout([...cmd, '--bogus-option'])
      expect(bad.code, `${cmd.join(' ')} --bogus-option: ${bad.stdout}${bad.stderr}`).toBe(3)
      expect(bad.stderr, cmd.join(' ')).toMatch(/usage: /)
      expect(bad.stderr, cmd.join(' ')).not.toMatch(/\n\s+at /)
    }
    // every command of the tree is in help
    const help = closeout(['help']).stdout
    for (const name of ['test', 'doctor', 'verify', 'diff', 'sbom', 'lint', 'env', 'report', 'job', 'docs'])
      expect(help).toMatch(new RegExp(`^  ${name} `, 'm'))
  })

  test('the bash ./closeout hands every command to the command tree: an unknown one exits 3 with the usage', () => {
    const bash = (args: string[]) => spawnSync('bash', [join(ROOT, 'closeout'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    const nope = bash(['nope'])
    expect(nope.status, nope.stderr).toBe(3)
    expect(nope.stderr).toContain('unknown command "nope"')
    expect(nope.stderr).toMatch(/usage: \.\/closeout COMMAND/)
    const verify = bash(['verify', '--help'])
    expect(verify.status, verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/usage: \.\/closeout verify/)
    // test goes through bin/closeout.ts (signal forwarding), not pnpm run: its usage error is the command tree's exit 3
    const t = bash(['test', '--bogus-option'])
    expect(t.status, t.stderr).toBe(3)
  })

  test('--opt=value and --opt value parse the same, for every option that takes a value', () => {
    const cases: [string[], string[], string[]][] = [
      [
        ['env', 'up'],
        ['--fault=api-500', '--fault=consumer-stale'],
        ['--fault', 'api-500', '--fault', 'consumer-stale'],
      ],
      [
        ['job', 'render'],
        ['--target=fixtures/targets/local.yaml', '--tag=closeout', '--namespace=ns1', '--env=A=1'],
        ['--target', 'fixtures/targets/local.yaml', '--tag', 'closeout', '--namespace', 'ns1', '--env', 'A=1'],
      ],
      [['report'], ['--open', '--port=8080'], ['--open', '--port', '8080']],
      [['bench'], ['--runs=2', '--execs=3', '--suites=closeout'], ['--runs', '2', '--execs', '3', '--suites', 'closeout']],
      [['demo'], ['--fault=api-500'], ['--fault', 'api-500']],
    ]
    return Promise.all(
      cases.map(async ([path, eq, spaced]) => {
        let cmd = rootCommand as Parameters<typeof parseCommandArgs>[0]
        for (const name of path) {
          const sub = cmd.subcommands?.[name]
          if (!sub) throw new Error(`no command ${path.join(' ')}`)
          cmd = 'load' in sub ? await sub.load() : sub
        }
        const a = parseCommandArgs(cmd, eq)
        expect(a.values, path.join(' ')).toEqual(parseCommandArgs(cmd, spaced).values)
        expect(Object.keys(a.values).length, path.join(' ')).toBeGreaterThan(0)
      }),
    )
  })

  test('job render prints the same manifest for --opt=value and --opt value', () => {
    const stamp = (s: string) => s.replace(/\d{14}/g, 'STAMP')
    const a = closeout(['job', 'render', '--target=fixtures/targets/local.yaml', '--tag=closeout', '--image=img:1'])
    const b = closeout(['job', 'render', '--target', 'fixtures/targets/local.yaml', '--tag', 'closeout', '--image', 'img:1'])
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout).toContain('image: img:1')
    expect(stamp(a.stdout)).toBe(stamp(b.stdout))
  })

  test('a missing value, a value for a flag, an empty value and a stray positional are usage errors naming the option', () => {
    const cmd = defineCommand({
      name: 'x',
      summary: '',
      usage: 'usage: x',
      options: { target: { type: 'string' }, keep: { type: 'boolean' } },
    })
    expect(() => parseCommandArgs(cmd, ['--target'])).toThrow(new UsageError('--target needs a value'))
    expect(() => parseCommandArgs(cmd, ['--target', '--keep'])).toThrow(/--target needs a value \(write --target=VALUE/)
    expect(() => parseCommandArgs(cmd, ['--keep=yes'])).toThrow(new UsageError('--keep takes no value'))
    expect(() => parseCommandArgs(cmd, ['--target='])).toThrow(new UsageError('--target needs a value'))
    expect(() => parseCommandArgs(cmd, ['extra'])).toThrow(new UsageError('unexpected argument "extra"'))
    expect(() => parseCommandArgs(cmd, ['--nope'])).toThrow(new UsageError('unknown option --nope'))
    expect(parseCommandArgs(cmd, ['--target=a=b', '--keep']).values).toEqual({ target: 'a=b', keep: true })
  })

  test('runCommand: the usage error goes to stderr with the command name, --help to stdout; other errors are the caller’s', async () => {
    const chunks = { out: '', err: '' }
    const sink = (k: 'out' | 'err') => ({ write: (s: string) => ((chunks[k] += s), true) }) as unknown as NodeJS.WritableStream
    const cmd = defineCommand({ name: 'demo-x', summary: '', usage: 'usage: demo-x', run: () => 0 })
    expect(await runCommand(cmd, ['--what'], sink('out'), sink('err'))).toBe(3)
    expect(chunks.err).toBe('closeout demo-x: unknown option --what\n\nusage: demo-x\n')
    expect(await runCommand(cmd, ['-h'], sink('out'), sink('err'))).toBe(0)
    expect(chunks.out).toBe('usage: demo-x\n')
    const boom = defineCommand({
      name: 'b',
      summary: '',
      usage: 'usage: b',
      run: () => {
        throw new Error('boom')
      },
    })
    await expect(runCommand(boom, [])).rejects.toThrow('boom')
  })

  test('bench refuses a bad --runs or --suites before it starts anything', async () => {
    expect(await runCommand(benchCommand, ['--runs=0'], process.stdout, { write: () => true } as unknown as NodeJS.WritableStream)).toBe(3)
    expect(
      await runCommand(benchCommand, ['--suites=nightly'], process.stdout, { write: () => true } as unknown as NodeJS.WritableStream),
    ).toBe(3)
  })
})

describe('signals and colours', { timeout: 180_000 }, () => {
  /** a wrapper (runChild, as bin/closeout.ts runs test and demo) around a child script */
  function wrapped(childCode: string) {
    const wrapper = `import { runChild } from ${JSON.stringify(join(ROOT, 'bin/_cli.ts'))}
const r = await runChild([process.execPath, '-e', ${JSON.stringify(childCode)}])
process.stdout.write('wrapper: ' + JSON.stringify(r) + '\\n')
process.exit(r.code)`
    return spawn(process.execPath, ['--input-type=module', '-e', wrapper], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  }

  async function interrupt(childCode: string, sig: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
    const p = wrapped(childCode)
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d))
    await new Promise<void>((res) => p.stdout.on('data', () => out.includes('ready') && res()))
    p.kill(sig)
    const code = await new Promise<number | null>((res) => p.on('exit', (c) => res(c)))
    return { code, out }
  }

  test('SIGINT / SIGTERM reach the child once; its exit code comes back; 2 when it died of the signal', async () => {
    // a run that writes its summary and exits 2 on an interrupt (as bin/test.ts does)
    const polite =
      "let n=0; for (const s of ['SIGINT','SIGTERM']) process.on(s, () => { n++; console.log('child got ' + s + ' ' + n); setTimeout(() => process.exit(2), 50) }); console.log('ready'); setInterval(() => {}, 1000)"
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const r = await interrupt(polite, sig)
      expect(r.code, r.out).toBe(2)
      expect(r.out).toContain(`child got ${sig} 1`)
      expect(r.out).not.toContain(`child got ${sig} 2`)
      expect(r.out).toContain('"interrupted":true')
    }
    // a child that does not handle the signal: the wrapper exits 2, not 130/143
    const plain = "console.log('ready'); setInterval(() => {}, 1000)"
    expect((await interrupt(plain, 'SIGINT')).code).toBe(2)
    expect((await interrupt(plain, 'SIGTERM')).code).toBe(2)
    // a child exiting with the shell convention for a signal after an interrupt
    expect(
      (await interrupt("process.on('SIGINT', () => process.exit(130)); console.log('ready'); setInterval(() => {}, 1000)", 'SIGINT')).code,
    ).toBe(2)
  })

  test('without an interrupt the child’s own exit code is returned unchanged', () => {
    for (const code of [0, 1, 2, 3]) {
      const wrapper = `import { runChild } from ${JSON.stringify(join(ROOT, 'bin/_cli.ts'))}
process.exit((await runChild([process.execPath, '-e', 'process.exit(${code})'])).code)`
      expect(spawnSync(process.execPath, ['--input-type=module', '-e', wrapper], { cwd: ROOT }).status).toBe(code)
    }
  })

  test('childEnv: NO_COLOR when stdout is not a terminal, unless FORCE_COLOR asks for colour', () => {
    expect(childEnv({ CI: '1' }, false).NO_COLOR).toBe('1')
    expect(childEnv({ CI: '1' }, true).NO_COLOR).toBeUndefined()
    expect(childEnv({ FORCE_COLOR: '1' }, false).NO_COLOR).toBeUndefined()
  })

  test('piped output of ./closeout (help, a usage error, selftest with its vitest and lint) has no ANSI codes, even with CI=1', () => {
    // CI=1 makes vitest colour its output even through a pipe unless NO_COLOR is set: the wrapper must set it
    const env = { CI: '1', FORCE_COLOR: '', NO_COLOR: '' }
    const help = closeout(['help'], env)
    expect(help.stdout).not.toContain(ESC)
    expect(closeout(['env', '--bogus'], env).stderr).not.toContain(ESC)
    const st = spawnSync(process.execPath, [join(ROOT, 'bin/closeout.ts'), 'selftest', 'tests/unit/tags.test.ts'], {
      cwd: ROOT,
      env: Object.fromEntries(Object.entries({ ...process.env, CI: '1' }).filter(([k]) => k !== 'FORCE_COLOR' && k !== 'NO_COLOR')),
      encoding: 'utf8',
      timeout: 170_000,
    })
    expect(st.status, `${st.stdout}${st.stderr}`).toBe(0)
    expect(st.stdout).toContain('tags.test.ts')
    expect(st.stdout).toContain('closeout lint: biome check and tsc --noEmit clean')
    expect(`${st.stdout}${st.stderr}`).not.toContain(ESC)
  })
})
