// Secrets never reach a report, a log line or an error message: every string that leaves the
// harness (evidence, Allure attachments, summary reasons) goes through one Redactor.

const PATTERNS: [RegExp, string][] = [
  // connection strings: scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]+:)([^@\s/]+)(@)/gi, '$1***$3'],
  // Authorization headers / bearer tokens
  [/(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1***'],
  // Azure SAS / connection-string keys
  [/(\b(?:SharedAccessKey|AccountKey|sig|SharedAccessSignature)=)[^;&\s"']+/gi, '$1***'],
  // key=value / key: value for password-like keys (env dumps, DSNs, YAML)
  [/(\b[A-Za-z_]*(?:password|passwd|pwd|secret|token|api[_-]?key)\b\s*[=:]\s*"?)([^\s"';&,*]+)/gi, '$1***'],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '***jwt***'],
]

export class Redactor {
  private readonly secrets: string[]
  constructor(secrets: Iterable<string> = []) {
    this.secrets = [...new Set([...secrets].filter((s) => typeof s === 'string' && s.length >= 4))].sort((a, b) => b.length - a.length)
  }
  /** a new Redactor that also hides these values */
  with(more: Iterable<string>): Redactor {
    return new Redactor([...this.secrets, ...more])
  }
  redact(text: string): string {
    let out = text
    for (const s of this.secrets) out = out.split(s).join('***')
    for (const [re, rep] of PATTERNS) out = out.replace(re, rep)
    return out
  }
  redactArgv(argv: readonly string[]): string[] {
    return argv.map((a) => this.redact(a))
  }
}

/** Values of environment variables whose names look secret (used in addition to the profile's list); a
 * webhook URL (CLOSEOUT_NOTIFY_URL) carries its credential in the path, so it is one. */
export function secretLookingEnvValues(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([k, v]) => v && /(PASSWORD|SECRET|TOKEN|_KEY$|CONNECTION_STRING|SAS|NOTIFY_URL|WEBHOOK)/i.test(k))
    .map(([, v]) => v as string)
}

/** Cap a text excerpt by bytes (UTF-8), keeping the tail when asked (logs) or the head (bodies). */
export function capText(text: string, maxBytes: number, keep: 'head' | 'tail' = 'head'): string {
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= maxBytes) return text
  const cut = keep === 'head' ? buf.subarray(0, maxBytes) : buf.subarray(buf.length - maxBytes)
  const s = cut.toString('utf8').replace(/^\uFFFD|\uFFFD$/g, '')
  const note = `[… ${buf.length - maxBytes} bytes cut]`
  return keep === 'head' ? `${s}\n${note}` : `${note}\n${s}`
}
