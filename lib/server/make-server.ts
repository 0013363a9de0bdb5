import Fastify, { type FastifyInstance, type FastifyServerOptions, type RawServerBase } from 'fastify'
import type { ServerOptions as HttpServerOptions } from 'node:http'
import type { SecureServerOptions } from 'node:http2'
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import type { StreamingWsgiApp, WsgiApp } from '../../types/protocol.js'
import { fastifyWsgi } from '../fastify/plugin.js'
import { invalid, PLUGIN_ONLY_OPTIONS, type FastifyWsgiOptions, type WsgiRunOptions } from '../options.js'
import { serverLifecycle } from '../connection/lifecycle.js'
import { wsgiClientErrorHandler } from './client-error.js'
import { createAccessLog } from './access-log.js'

/** Options of `makeServer`: where to listen, how long a shutdown waits, and the plugin's and Fastify's options. */
export interface ServeOptions extends WsgiRunOptions {
  /** Mount the app at this path, its SCRIPT_NAME; other paths get 404. Default: the root. */
  prefix?: string
  /** The address to listen on. Default `'127.0.0.1'` (wsgiref's `''` is `'0.0.0.0'` here). */
  host?: string
  /** The port. Default 8000; 0 picks a free port (read it with `server.addresses()`). */
  port?: number
  /**
   * How long `close()` lets in-flight responses and uploads finish, in
   * milliseconds, before it destroys the connections still open. Default 30000.
   */
  gracefulTimeout?: number
  /** Serve HTTP/2 (over TLS with `https`). */
  http2?: boolean
  /** TLS options: HTTPS, or HTTP/2 over TLS with `http2: true`. */
  https?: HttpsServerOptions | SecureServerOptions | null
  /** Options of the `node:http` server. */
  http?: HttpServerOptions | null
}

/** Every option of `makeServer`: ServeOptions and Fastify's server options (`logger`, timeouts...). */
export type MakeServerOptions = ServeOptions & Omit<FastifyServerOptions, 'serverFactory'>

/** The listening Fastify instance `makeServer` returns; `close()` is the graceful shutdown. */
export type WsgiServer = FastifyInstance<RawServerBase>

const DEFAULT_PORT = 8000
const DEFAULT_GRACEFUL_TIMEOUT = 30_000
/** Node's longest timer, in ms; a longer one fires at once. */
export const MAX_TIMEOUT = 2 ** 31 - 1

/**
 * wsgiref's `make_server(host, port, app).serve_forever()` on Fastify: a
 * listening instance with `app` mounted at `/` for every method. `close()`
 * is `shutdown()`: no new connections, in-flight responses finish (up to
 * `gracefulTimeout`), then the remaining connections are destroyed.
 */
export function makeServer (app: WsgiApp, options?: MakeServerOptions & { input?: 'buffer' }): Promise<WsgiServer>
export function makeServer (app: StreamingWsgiApp, options: MakeServerOptions & { input: 'stream' }): Promise<WsgiServer>
export function makeServer (app: WsgiApp | StreamingWsgiApp, options: MakeServerOptions = {}): Promise<WsgiServer> {
  return serveApp(app, options)
}

/** makeServer for an app not yet known to be one (the CLI's): the plugin checks it. */
export async function serveApp (app: unknown, options: MakeServerOptions): Promise<WsgiServer> {
  const { host = '127.0.0.1', port = DEFAULT_PORT, gracefulTimeout = DEFAULT_GRACEFUL_TIMEOUT, prefix, ...rest } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) invalid('port', 'an integer from 0 to 65535', port)
  if (typeof gracefulTimeout !== 'number' || !(gracefulTimeout >= 0 && gracefulTimeout <= MAX_TIMEOUT)) {
    invalid('gracefulTimeout', `a number of milliseconds from 0 to ${MAX_TIMEOUT}`, gracefulTimeout)
  }
  const wsgiOptions: Record<string, unknown> = { app, prefix }
  // A request that still arrives once close() began (a connection accepted just before the
  // listening socket closed, or a request pipelined behind a response in flight) is served,
  // with Connection: close, rather than refused with 503: a graceful reload drops nothing.
  // A request refused by Node's parser gets wsgiref's statuses (414 for an over-long request line), readable by a client still sending.
  const fastifyOptions: Record<string, unknown> = { logController: createAccessLog(), return503OnClosing: false, clientErrorHandler: wsgiClientErrorHandler }
  for (const [key, value] of Object.entries(rest)) {
    // The plugin's options go to the plugin; every other key is Fastify's (bodyLimit too: the plugin's default follows it).
    if (PLUGIN_ONLY_OPTIONS.has(key)) wsgiOptions[key] = value
    else fastifyOptions[key] = value
  }
  const fastify = Fastify(fastifyOptions) as unknown as FastifyInstance
  try {
    timeOutSlowBodies(fastify.server as RawServerBase)
    destroyConnectionsAfter(fastify, gracefulTimeout)
    await fastify.register(fastifyWsgi, wsgiOptions as FastifyWsgiOptions)
    await fastify.listen({ host, port })
  } catch (err) {
    await fastify.close()
    throw err
  }
  return fastify as unknown as WsgiServer
}

/**
 * Fastify sets requestTimeout after Node made the server, so Node's rule that
 * headersTimeout is at most requestTimeout is not applied, and with
 * headersTimeout longer (60 s by default) Node never times out a request whose
 * body arrives too slowly: requestTimeout would cover the headers only.
 */
function timeOutSlowBodies (server: RawServerBase): void {
  if ('headersTimeout' in server && server.requestTimeout > 0 && server.headersTimeout > server.requestTimeout) {
    server.headersTimeout = server.requestTimeout
  }
}

/**
 * Fastify's close() (with the plugin's lifecycle) stops accepting, closes
 * idle connections and HTTP/2 sessions gracefully, then waits for every
 * in-flight response, however long it takes. This bounds the wait: once `timeout` ms have passed, the
 * connections still open are destroyed (an app body still gets close(): the
 * handler sees the client gone).
 */
function destroyConnectionsAfter (fastify: FastifyInstance, timeout: number): void {
  const server = fastify.server as RawServerBase
  const { sessions } = serverLifecycle(fastify)
  fastify.addHook('preClose', function startGracefulTimeout (done) {
    const timer = setTimeout(() => {
      fastify.log.warn({ gracefulTimeout: timeout }, 'graceful shutdown timed out: destroying the connections still open')
      if ('closeAllConnections' in server) server.closeAllConnections()
      for (const session of sessions) session.destroy()
    }, timeout)
    server.once('close', () => clearTimeout(timer))
    done()
  })
}
