// Preloaded (NODE_OPTIONS=--import) in the bench's one CPU-profiled closeout run only. Vitest stops its fork
// workers with SIGTERM, and a process ended by a signal writes no --cpu-prof profile; vitest exits cleanly on
// SIGTERM only when --cpu-prof is in process.execArgv, which NODE_OPTIONS is not. A forked child (an IPC
// channel: the vitest worker) therefore exits normally on SIGTERM here, and its profile is written.
if (typeof process.send === 'function') process.once('SIGTERM', () => process.exit(0))
