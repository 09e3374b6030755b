// ./closeout env up / status / down as a newcomer uses them.
import { describe, test, expect } from 'vitest'
import { createConnection } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, node } from './_run.ts'

const open = (port: number) =>
  new Promise<boolean>((res) => {
    const s = createConnection({ host: '127.0.0.1', port })
    s.on('connect', () => (s.destroy(), res(true)))
    s.on('error', () => res(false))
  })

describe('local environment lifecycle', { timeout: 300_000 }, () => {
  test('up is idempotent; status reports every component; kubeconfig is HTTPS with a CA and a token', () => {
    expect(node(['fixtures/local-env/env.ts', 'up']).code).toBe(0)
    const again = node(['fixtures/local-env/env.ts', 'up'])
    expect(again.code).toBe(0)
    expect(again.stderr).not.toMatch(/restarting/)
    const st = node(['fixtures/local-env/env.ts', 'status'])
    expect(st.code).toBe(0)
    for (const c of ['postgresql', 'redis', 'prometheus', 'simulator', 'la-double', 'gateway', 'eventhubs', 'pod tx-lookup-api']) expect(st.stdout).toMatch(new RegExp(`^${c}\\s+up`, 'm'))
    const kc = readFileSync(join(ROOT, 'reports/local-env/kubeconfig'), 'utf8')
    expect(kc).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/)
    expect(kc).toContain('certificate-authority-data:')
    expect(kc).toMatch(/token: sim-admin-/)
    expect(kc).not.toContain('insecure-skip-tls-verify')
  })
  test('an unknown fault is a usage error listing the valid ones', () => {
    const r = node(['fixtures/local-env/env.ts', 'up', '--fault', 'disk-full'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('unknown fault "disk-full"')
    expect(r.stderr).toContain('consumer-crashloop')
  })
  test('a different fault set restarts what must change, and back', () => {
    const r = node(['fixtures/local-env/env.ts', 'up', '--fault', 'api-500'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/restarting/)
    expect(JSON.parse(readFileSync(join(ROOT, 'reports/local-env/faults.json'), 'utf8'))).toEqual(['api-500'])
    expect(node(['fixtures/local-env/env.ts', 'up']).code).toBe(0)
  })
  test('down stops every process and leaves no listener; status then fails; up brings it back', async () => {
    const env = JSON.parse(readFileSync(join(ROOT, 'reports/local-env/env.json'), 'utf8')) as { ports: Record<string, number | number[]> }
    const ports = Object.values(env.ports).filter((p): p is number => typeof p === 'number')
    const d = node(['fixtures/local-env/env.ts', 'down'])
    expect(d.code, d.stderr).toBe(0)
    for (const p of ports) expect(await open(p), `port ${p}`).toBe(false)
    expect(node(['fixtures/local-env/env.ts', 'status']).code).toBe(1)
    expect(node(['fixtures/local-env/env.ts', 'up']).code).toBe(0)
  })
})
