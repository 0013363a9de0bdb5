import type { AddressInfo } from 'node:net'
import { serveApp, type WsgiServer } from '../server/make-server.js'
import { UsageError, type CliOptions } from './args.js'
import { loadApp } from './load-app.js'

/** Messages a worker sends its primary. */
export type WorkerMessage = { type: 'listening', port: number } | { type: 'failed', message: string } | { type: 'stopped' }

function portOf (server: WsgiServer): number {
  return (server.server.address() as AddressInfo).port
}

export function urlOf (host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Loads the app and listens: everything a serving process does before it serves. */
async function start (options: CliOptions): Promise<WsgiServer> {
  const app = await loadApp(options.file, options.exportName)
  try {
    return await serveApp(app, {
      host: options.host,
      port: options.port,
      input: options.input,
      prefix: options.prefix,
      gracefulTimeout: options.gracefulTimeout,
      bodyLimit: options.bodyLimit,
      keepAliveTimeout: options.keepAliveTimeout,
      requestTimeout: options.requestTimeout,
      // Node checks request timeouts every 30 s by default: a shorter timeout would fire up to 30 s late.
      http: options.requestTimeout ? { connectionsCheckingInterval: Math.min(1000, options.requestTimeout) } : undefined,
      trustProxy: options.trustProxy,
      logger: { level: options.logLevel }
    })
  } catch (err) {
    throw new UsageError(`cannot listen on ${urlOf(options.host, options.port)}: ${(err as Error).message}`)
  }
}

/** SIGTERM and SIGINT close the server gracefully, then `exit` (repeats are ignored: a supervisor and a terminal may both signal). */
function closeOnSignals (server: WsgiServer, exit: () => void): void {
  let closing = false
  const stop = (signal: NodeJS.Signals): void => {
    if (closing) return
    closing = true
    server.log.info({ signal }, 'shutting down gracefully')
    server.close().then(exit)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** No supervisor: this process serves. */
export async function serveHere (options: CliOptions): Promise<void> {
  const server = await start(options)
  const port = portOf(server)
  process.stdout.write(`fastify-wsgi: listening on ${urlOf(options.host, port)}\n`)
  closeOnSignals(server, () => process.exit(0))
}

/** A cluster worker: serves, and tells the primary it listens, or why it could not start. */
export async function serveWorker (options: CliOptions): Promise<void> {
  const send = (message: WorkerMessage, callback?: () => void): void => { process.send!(message, undefined, undefined, callback) }
  let server: WsgiServer
  try {
    // The primary holds the listening socket; with --port 0, every worker gets the same port from it.
    server = await start(options)
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message }, () => process.exit(2))
    return
  }
  closeOnSignals(server, () => {
    // The primary may have handed this worker a connection just before it learned that the
    // server closed. That handoff reaches the worker before the primary's answer to 'stopped'
    // (one channel, in order), and the worker refuses it, so the cluster gives it to another
    // worker: exiting only on that answer, no connection is lost in between.
    process.once('message', () => process.exit(0))
    send({ type: 'stopped' })
  })
  send({ type: 'listening', port: portOf(server) })
}
