// The example server (server.ts) on every core: node:cluster forks one worker per CPU, and the
// workers share the port (the primary accepts connections and hands them out in turn). Inside a
// worker, wsgi.multiprocess is true. A worker that dies is replaced; SIGTERM or SIGINT stops them
// all gracefully. `npm run build && node dist/examples/cluster.js` (PORT, HOST and WORKERS override).
// For a supervisor with reload on SIGHUP and clear errors, use the CLI: `fastify-wsgi --workers N app.mjs`.
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS ?? availableParallelism())
  let stopping = false
  for (let i = 0; i < workers; i++) cluster.fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    console.error(`worker ${worker.process.pid} died (${signal ?? code}); starting a new one`)
    cluster.fork()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true
      // Each worker closes its server gracefully (server.ts); the primary exits when the last one has.
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    })
  }
} else {
  await import('./server.js')
}
