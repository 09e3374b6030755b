// Exec over WebSocket (v5.channel.k8s.io, facts §1), on `ws` directly rather than client-node's
// Exec: client-node 2.0.1 JSON-parses the status frame (channel 3) without a try/catch, so a
// malformed frame raises outside its promise (an unhandled error) and the exec then waits out the
// deadline (facts §9). Here every frame is validated before it is used, a refused upgrade keeps its
// Status body (403 names verb + resource), and the pod of a deployment is resolved once per run.
//
// The rule for an exec that ends without a status (written down here and in the kube notes):
//  - status frame received → the result: exit code from it (Success → 0, NonZeroExitCode → its cause),
//    or an error result for another Failure (e.g. the container does not exist).
//  - the deadline passes while the stream is alive (a ping is answered) → a pod-side hang: the command
//    is cut, the result has exitCode null and "deadline … exceeded; the command was cut" (a finding
//    about the command, recorded as a failed step).
//  - the deadline passes and the ping is not answered, or the stream drops (no close frame, reset,
//    socket error) before the status, with or without output → transport loss: KubeExecError of kind
//    unreachable ("could not check"; the command may or may not have run), partial output attached.
//  - the server closes the stream cleanly without a status, or sends a malformed status → the API
//    server broke the protocol: KubeExecError of kind server-error, partial output attached.

import type { IncomingMessage } from 'node:http'
import { StringDecoder } from 'node:string_decoder'
import WebSocket from 'ws'
import { isoNow } from '../evidence.ts'
import {
  cleanText,
  describeBadBody,
  describeHttpStatus,
  KubeAccessError,
  type KubeAccessKind,
  type KubeErrorClass,
  KubeExecError,
  KubeTimeoutError,
  toKubeAccessError,
} from './errors.ts'
import { kubectlExecLine } from './kubectl-line.ts'
import type { KubeReads } from './reads.ts'
import { KubeApiError } from './transport.ts'

export interface ExecResult {
  command: string[]
  target: { context: string; namespace: string; pod: string; container: string }
  stdout: string
  stderr: string
  /** null when the command did not report an exit status (deadline, exec failure) */
  exitCode: number | null
  durationMs: number
  startedAt: string
  finishedAt: string
  error?: string
}

export interface ExecOptions {
  pod?: string
  /** a Ready pod of this deployment, like `kubectl exec deploy/x` */
  deployment?: string
  container: string
  command: string[]
  stdin?: string | Buffer
  timeoutMs?: number
}

type Status = { status?: string; message?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } }

/** Exit code from the v5 status channel (facts §1.5): Success → 0, NonZeroExitCode → its ExitCode cause. */
export function exitCodeFromStatus(s: Status | undefined): number | null {
  if (!s) return null
  if (s.status === 'Success') return 0
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode')
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message)
  return null
}

/** A channel-3 payload as a metav1.Status, or undefined when it is not one (never throws). */
export function parseStatusFrame(payload: Buffer): Status | undefined {
  let v: unknown
  try {
    v = JSON.parse(payload.toString('utf8'))
  } catch {
    return undefined
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined
  const s = v as Status
  if (s.status !== 'Success' && s.status !== 'Failure') return undefined
  if (s.details !== undefined && (typeof s.details !== 'object' || s.details === null)) return undefined
  if (s.details?.causes !== undefined && !Array.isArray(s.details.causes)) return undefined
  return s
}

const PING_GRACE_MS = 1000
const BODY_CAP = 64 * 1024

type Ended =
  | { how: 'status' }
  | { how: 'closed'; code: number }
  | { how: 'error'; err: unknown }
  | { how: 'deadline'; alive: boolean }
  | { how: 'malformed'; excerpt: string }

/** One exec stream: frames in, outcome out. */
class ExecStream {
  stdout = ''
  stderr = ''
  // a UTF-8 character split across two frames is decoded whole
  private readonly outDecoder = new StringDecoder('utf8')
  private readonly errDecoder = new StringDecoder('utf8')
  status?: Status
  private readonly ws: WebSocket
  private settle?: (e: Ended) => void
  readonly ended: Promise<Ended>

  constructor(ws: WebSocket) {
    this.ws = ws
    this.ended = new Promise<Ended>((resolve) => {
      let done = false
      this.settle = (e) => {
        if (done) return
        done = true
        resolve(e)
      }
    })
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary))
    ws.on('close', (code: number) => this.settle?.({ how: 'closed', code }))
    ws.on('error', (err: unknown) => this.settle?.({ how: 'error', err }))
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (!isBinary || !Buffer.isBuffer(data) || data.length < 1) return // v5 data is binary; empty = handshake frame
    const ch = data[0]
    const payload = data.subarray(1)
    if (ch === 1) this.stdout += this.outDecoder.write(payload)
    else if (ch === 2) this.stderr += this.errDecoder.write(payload)
    else if (ch === 3 && !this.status) {
      const s = parseStatusFrame(payload)
      if (!s) {
        this.settle?.({ how: 'malformed', excerpt: cleanText(payload.toString('utf8'), 80) || `${payload.length} bytes` })
        this.kill()
        return
      }
      this.status = s
      this.settle?.({ how: 'status' })
      this.ws.close(1000) // like client-node: the status is the last frame, we close (in the background)
    }
    // 255 (close stream) and unknown channels are ignored, as kubectl does
  }

  /** once, when the stream has ended: bytes of an incomplete last character */
  flush(): void {
    this.stdout += this.outDecoder.end()
    this.stderr += this.errDecoder.end()
  }

  sendStdin(stdin: Buffer): void {
    this.ws.send(Buffer.concat([Buffer.from([0]), stdin]))
    if (this.ws.protocol === 'v5.channel.k8s.io') this.ws.send(Buffer.from([255, 0]))
  }

  /** at the deadline: a ping answered in time means the stream is alive and the command hangs */
  checkAlive(): void {
    const grace = setTimeout(() => {
      this.settle?.({ how: 'deadline', alive: false })
      this.kill()
    }, PING_GRACE_MS)
    this.ws.once('pong', () => {
      clearTimeout(grace)
      this.settle?.({ how: 'deadline', alive: true })
      this.kill()
    })
    try {
      this.ws.ping()
    } catch {
      /* the socket is gone: the grace timer reports it as not alive */
    }
  }

  kill(): void {
    try {
      this.ws.terminate()
    } catch {
      /* already closed */
    }
  }
}

interface ExecTarget {
  context: string
  namespace: string
  pod: string
  container: string
}

function readCapped(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (d: string) => {
      if (body.length < BODY_CAP) body += d
    })
    res.on('end', () => resolve(body))
    res.on('error', () => resolve(body))
    res.on('close', () => resolve(body))
  })
}

/** what an exec error names: the server, the pod and container, and the verb the Role needs */
function execErrorContext(k: KubeReads, t: ExecTarget) {
  return {
    server: k.server,
    context: t.context,
    namespace: t.namespace,
    what: `exec in pod ${t.pod} (container ${t.container}) in ${t.namespace}`,
    verb: 'create',
    resource: 'pods/exec',
  }
}

/** a refused upgrade: the status and Status body the API server sent, classified like any call */
function refusal(k: KubeReads, t: ExecTarget, status: number, contentType: string, body: string): Error {
  const ctx = execErrorContext(k, t)
  const html = /html/i.test(contentType) || /^\s*</.test(body)
  const c: KubeErrorClass =
    html && ![401, 403, 404, 429].includes(status) ? describeBadBody(body, ctx, status) : describeHttpStatus(status, body, ctx)
  if (c.kind === 'other') return new KubeApiError(status, body, c.message)
  return new KubeAccessError(c as KubeErrorClass & { kind: KubeAccessKind }, k.server)
}

function connectError(k: KubeReads, t: ExecTarget, err: unknown): Error {
  const ctx = execErrorContext(k, t)
  const access = toKubeAccessError(err, ctx)
  if (access) return access
  const msg = cleanText((err as Error)?.message ?? String(err), 160)
  const fix =
    'rerun; if it persists, the API server (or a proxy in front of it) does not accept v5.channel.k8s.io exec: try kubectl exec against it'
  return new KubeAccessError(
    { kind: 'server-error', fix, message: `the exec upgrade to API server ${k.server} failed (${ctx.what}): ${msg}; ${fix}` },
    k.server,
    err,
  )
}

/** Open the exec WebSocket within `connectMs` (credentials, TCP, TLS, upgrade). */
async function connect(k: KubeReads, t: ExecTarget, o: ExecOptions, connectMs: number): Promise<WebSocket> {
  const auth = await k.shared.transport.authOptions()
  const q = new URLSearchParams({ stdout: 'true', stderr: 'true', stdin: String(o.stdin !== undefined), tty: 'false' })
  for (const c of o.command) q.append('command', c)
  q.set('container', o.container)
  const base = k.server.replace(/^http/, 'ws').replace(/\/$/, '')
  const url = `${base}/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/exec?${q}`
  return new Promise<WebSocket>((resolve, reject) => {
    const tls = { ca: auth.ca, cert: auth.cert, key: auth.key, rejectUnauthorized: auth.rejectUnauthorized, servername: auth.servername }
    // auth.agent is client-node's cached https.Agent for this cluster+user: its TLS session cache makes
    // every exec after the first a resumed handshake (typed `unknown` there, an http(s).Agent at runtime)
    const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
      headers: auth.headers,
      ...tls,
      agent: auth.agent as never,
      perMessageDeflate: false,
    })
    let settled = false
    const done = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn()
    }
    const timer = setTimeout(
      () =>
        done(() => {
          ws.terminate()
          reject(
            new KubeTimeoutError(
              `no answer from API server ${k.server} within ${connectMs} ms (exec in pod ${t.pod} in ${t.namespace}: the WebSocket upgrade was not answered)`,
              k.server,
            ),
          )
        }),
      connectMs,
    )
    ws.once('open', () => done(() => resolve(ws)))
    ws.once('unexpected-response', (req, res) => {
      void readCapped(res).then((body) =>
        done(() => {
          req.destroy()
          reject(refusal(k, t, res.statusCode ?? 0, String(res.headers['content-type'] ?? ''), body))
        }),
      )
    })
    ws.on('error', (err) => done(() => reject(connectError(k, t, err)))) // stays: later errors are the stream's
  })
}

/** Open the stream; a cached pod that is gone (404) is resolved again once. */
async function openStream(k: KubeReads, o: ExecOptions, connectMs: number): Promise<{ ws: WebSocket; target: ExecTarget }> {
  const fromCache = o.pod === undefined
  const target: ExecTarget = {
    context: k.contextName,
    namespace: k.namespace,
    pod: o.pod ?? (await k.execPodOf(o.deployment as string)),
    container: o.container,
  }
  try {
    return { ws: await connect(k, target, o, connectMs), target }
  } catch (e) {
    if (!fromCache || (e as { code?: number })?.code !== 404) throw e
    k.forgetExecPod(o.deployment)
    target.pod = await k.execPodOf(o.deployment as string, true)
    return { ws: await connect(k, target, o, connectMs), target }
  }
}

function outputBytes(s: ExecStream): string {
  const n = Buffer.byteLength(s.stdout) + Buffer.byteLength(s.stderr)
  return n ? `after ${n} bytes of output ` : 'before any output '
}

/** The rule at the top of this file, applied to how the stream ended. */
function judge(k: KubeReads, t: ExecTarget, s: ExecStream, e: Ended, timeoutMs: number): string | undefined {
  const where = `the exec stream of pod ${t.pod} (container ${t.container}) in ${t.namespace}`
  const partial = { stdout: s.stdout, stderr: s.stderr }
  const fail = (kind: KubeAccessKind, message: string, fix: string, cause?: unknown): never => {
    throw new KubeExecError(
      { kind, message: `${message}; the exit code is unknown and nothing was checked: ${fix}`, fix },
      k.server,
      partial,
      cause,
    )
  }
  if (s.status) {
    if (exitCodeFromStatus(s.status) === null) return `exec failed: ${s.status.message ?? s.status.reason ?? 'unknown'}`
    return undefined
  }
  if (e.how === 'deadline') {
    if (e.alive) return `deadline of ${timeoutMs} ms exceeded; the command was cut`
    return fail(
      'unreachable',
      `no answer on ${where} from API server ${k.server} for ${timeoutMs} ms (a ping was not answered either: the connection is gone)`,
      'check the network path to the API server (proxy / load-balancer idle timeouts) and rerun',
    )
  }
  if (e.how === 'malformed')
    return fail(
      'server-error',
      `API server ${k.server} sent a malformed exec status frame on channel 3 for ${where} (${e.excerpt})`,
      'rerun; if it persists, check the API server version and any proxy in front of it (it must pass v5.channel.k8s.io frames unchanged)',
    )
  if (e.how === 'error' || (e.how === 'closed' && e.code === 1006)) {
    const why = e.how === 'error' ? cleanText((e.err as Error)?.message ?? String(e.err), 100) : 'connection closed without a close frame'
    return fail(
      'unreachable',
      `${where} from API server ${k.server} dropped ${outputBytes(s)}before the exit status (${why}); the command may or may not have completed`,
      'check the network path to the API server (proxy / load-balancer idle timeouts, VPN) and rerun',
    )
  }
  return fail(
    'server-error',
    `API server ${k.server} closed ${where} ${outputBytes(s)}without an exit status (close code ${e.how === 'closed' ? e.code : '?'})`,
    'rerun; if it persists, the API server or a proxy in front of it does not complete v5.channel.k8s.io exec streams',
  )
}

/** Run a command in a pod; the result, or an AccessError when the check could not be made. */
export async function runExec(k: KubeReads, o: ExecOptions): Promise<ExecResult> {
  const startedAt = isoNow()
  const t0 = performance.now()
  const timeoutMs = o.timeoutMs ?? 60_000
  const lineFor = (pod: string) =>
    kubectlExecLine({ namespace: k.namespace, pod, container: o.container, command: o.command, stdin: o.stdin !== undefined })
  let opened: { ws: WebSocket; target: ExecTarget }
  try {
    opened = await openStream(k, o, Math.min(timeoutMs, k.timeoutMs))
  } catch (e) {
    k.report({
      kind: 'exec',
      command: lineFor(o.pod ?? `deploy/${o.deployment}`),
      container: o.container,
      status: (e as { code?: number })?.code,
    })
    throw e
  }
  const { ws, target } = opened
  k.report({ kind: 'exec', command: lineFor(target.pod), pod: target.pod, container: o.container })
  const stream = new ExecStream(ws)
  if (o.stdin !== undefined) stream.sendStdin(Buffer.isBuffer(o.stdin) ? o.stdin : Buffer.from(o.stdin, 'utf8'))
  const timer = setTimeout(() => stream.checkAlive(), Math.max(1, timeoutMs - (performance.now() - t0)))
  const ended = await stream.ended
  clearTimeout(timer)
  if (ended.how !== 'status') stream.kill()
  stream.flush()
  const error = judge(k, target, stream, ended, timeoutMs)
  return {
    command: o.command,
    target,
    stdout: stream.stdout,
    stderr: stream.stderr,
    exitCode: error ? null : exitCodeFromStatus(stream.status),
    durationMs: Math.round(performance.now() - t0),
    startedAt,
    finishedAt: isoNow(),
    ...(error ? { error } : {}),
  }
}
