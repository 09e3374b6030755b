// Exec round trip through helpers/kube vs `kubectl exec -- true`, same pod, same run, alternating
// rounds (issue 12: target ≤ 0.1x kubectl). Usage, local environment up:
//   CLOSEOUT_PORT_BASE=48000 ./closeout node tests/bench/kube-exec.ts [rounds]
// Prints p50/p95 of each and the ratio; no assertion (benchmarks measure, tests do not time).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Kube, loadKubeConfig } from '../../helpers/kube.ts'

const env = JSON.parse(readFileSync(join(import.meta.dirname, '../../reports/local-env/env.json'), 'utf8')) as { kubeconfig: string }
const rounds = Number(process.argv[2] ?? 20)
const kube = new Kube(loadKubeConfig({ kubeconfig: env.kubeconfig }), { namespace: 'txlookup' })
const deployment = 'txlookup-consumer'
const pod = (await kube.readyPodOf(deployment)).metadata?.name ?? '?'

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]
const harness: number[] = []
const kubectl: number[] = []
await kube.execInPod({ deployment, container: 'consumer', command: ['true'] }) // warm-up (pod resolution, TLS)
for (let i = 0; i < rounds; i++) {
  let t0 = performance.now()
  const r = await kube.execInPod({ deployment, container: 'consumer', command: ['true'] })
  harness.push(performance.now() - t0)
  if (r.exitCode !== 0) throw new Error(`exec failed: ${r.error ?? r.exitCode}`)
  t0 = performance.now()
  execFileSync('kubectl', ['--kubeconfig', env.kubeconfig, '-n', 'txlookup', 'exec', pod, '-c', 'consumer', '--', 'true'], {
    env: { ...process.env, KUBECACHEDIR: '/tmp/kube-bench-cache' },
  })
  kubectl.push(performance.now() - t0)
}
kube.close()
const h50 = pct(harness, 50)
const k50 = pct(kubectl, 50)
console.log(
  JSON.stringify({
    rounds,
    harness: { p50: +h50.toFixed(1), p95: +pct(harness, 95).toFixed(1) },
    kubectl: { p50: +k50.toFixed(1), p95: +pct(kubectl, 95).toFixed(1) },
    ratio: +(h50 / k50).toFixed(3),
  }),
)
