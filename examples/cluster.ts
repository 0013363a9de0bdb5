// The example server (server.ts) on every core: node:cluster forks one worker per CPU, and the
// workers share the port (the primary accepts connections and hands them out in turn). Inside a
// worker, wsgi.multiprocess is true. A worker that dies is replaced; SIGTERM or SIGINT stops them
// all gracefully. `npm run build && node dist/examples/cluster.js` (PORT and HOST as for server.ts).
// For a supervisor with reload on SIGHUP and clear errors, use the CLI: `fastify-wsgi --workers N app.mjs`.
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'

if (cluster.isPrimary) {
  const workers = new Set<Worker>()
  let stopping = false
  const fork = (): void => { workers.add(cluster.fork()) }
  cluster.on('exit', (worker, code, signal) => {
    workers.delete(worker)
    if (stopping) return
    console.error(`worker ${worker.process.pid} died (exit code ${code}, signal ${signal}); starting a new one`)
    fork()
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true
      // Each worker closes its server gracefully (server.ts); the primary exits when the last one has.
      for (const worker of workers) worker.process.kill('SIGTERM')
    })
  }
  for (let i = 0; i < availableParallelism(); i++) fork()
} else {
  await import('./server.js')
}
