// The local environment's answer to a bind lost to someone else's outgoing connection (a port base in
// the kernel's ephemeral range): one retry after a short wait, then an error that says why and what to do.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { withBindRetry } from '../../fixtures/local-env/env.ts'
import { addrInUseHint, connectionsOnLocalPort, ephemeralRange } from '../../fixtures/local-env/procs.ts'

const base = process.env.CLOSEOUT_PORT_BASE
afterEach(() => {
  if (base === undefined) delete process.env.CLOSEOUT_PORT_BASE
  else process.env.CLOSEOUT_PORT_BASE = base
})

describe('EADDRINUSE on env up', { timeout: 30_000 }, () => {
  test('a start that lost its port is tried once more, and then succeeds', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'clix-bind-')), 'double.log')
    const calls: boolean[] = []
    const r = await withBindRetry('ARM double', [40446], log, async (retry) => {
      calls.push(retry)
      if (!retry) {
        writeFileSync(log, 'arm double: listen EADDRINUSE: address already in use 127.0.0.1:40446\n', { flag: 'a' })
        throw new Error('arm exited during start-up; see double.log')
      }
      return 'up'
    })
    expect(r).toBe('up')
    expect(calls).toEqual([false, true])
  })

  test('a second loss names the port, the ephemeral range and a base below it', async () => {
    const [lo] = ephemeralRange()
    process.env.CLOSEOUT_PORT_BASE = String(lo + 1000)
    const log = join(mkdtempSync(join(tmpdir(), 'clix-bind-')), 'pg.log')
    const err = await withBindRetry('PostgreSQL', [lo + 1432], log, async () => {
      throw new Error('PostgreSQL did not start: could not bind IPv4 address "127.0.0.1": Address already in use')
    }).catch((e: Error) => e)
    expect(String(err)).toContain(`PostgreSQL could not bind port ${lo + 1432}`)
    expect(String(err)).toContain('ephemeral port range')
    expect(String(err)).toMatch(/CLOSEOUT_PORT_BASE=\d+/)
  })

  test('any other failure is not retried, and an old EADDRINUSE line in the log does not count', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'clix-bind-')), 'gw.log')
    writeFileSync(log, 'gateway: listen EADDRINUSE (an earlier run)\n')
    let n = 0
    const err = await withBindRetry('gateway', [40091], log, async () => {
      n++
      throw new Error('gateway exited during start-up: bad config')
    }).catch((e: Error) => e)
    expect(n).toBe(1)
    expect(String(err)).toContain('bad config')
  })

  test('an outgoing connection is seen on its local port; the hint outside the ephemeral range names the holder instead', async () => {
    const srv = createServer().listen(0, '127.0.0.1')
    await new Promise((r) => srv.once('listening', r))
    const port = (srv.address() as { port: number }).port
    const c = createConnection({ host: '127.0.0.1', port })
    await new Promise((r) => c.once('connect', r))
    try {
      expect(connectionsOnLocalPort(c.localPort as number)).toBeGreaterThan(0)
      expect(addrInUseHint([20432], 20000)).toContain('another process holds it')
    } finally {
      c.destroy()
      srv.close()
    }
  })
})
