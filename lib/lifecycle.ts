import type { FastifyInstance } from 'fastify'
import type { EventEmitter } from 'node:events'
import type { Http2Session } from 'node:http2'

/**
 * What fastify.close() leaves to us (Fastify 5 on Node < 24). It refuses new
 * connections and answers requests arriving on open ones with
 * `Connection: close`, but a keep-alive connection whose response was under
 * way stays open after it (until keepAliveTimeout), and HTTP/2 sessions stay
 * open (until http2SessionTimeout) unless forceCloseConnections is true: each
 * would hold close() for over a minute. So the handler closes an HTTP/1.x
 * connection once its response ends while `closing`, and the sessions are
 * closed gracefully (GOAWAY: their streams finish, no new ones start). And
 * the server may close before an app's body did (a client that left, or
 * connections destroyed on a timeout): close() also waits for every response
 * still running to end and close its body (checklist D7).
 */
export interface ServerLifecycle {
  closing: boolean
  /** The server's open HTTP/2 sessions (none on an HTTP/1.x server). */
  readonly sessions: Set<Http2Session>
  /** Responses still running: each Promise resolves once its body is closed. */
  readonly running: Set<Promise<void>>
}

/** One lifecycle per raw server, however many times the plugin is registered on it. */
const lifecycles = new WeakMap<object, ServerLifecycle>()

export function serverLifecycle (fastify: FastifyInstance): ServerLifecycle {
  const known = lifecycles.get(fastify.server)
  if (known !== undefined) return known
  const lifecycle: ServerLifecycle = { closing: false, sessions: new Set(), running: new Set() }
  lifecycles.set(fastify.server, lifecycle)
  ;(fastify.server as EventEmitter).on('session', (session: Http2Session) => {
    lifecycle.sessions.add(session)
    session.once('close', () => lifecycle.sessions.delete(session))
  })
  fastify.addHook('preClose', function closeGracefully (done) {
    lifecycle.closing = true
    for (const session of lifecycle.sessions) session.close()
    done()
  })
  fastify.addHook('onClose', async function waitForBodies () {
    await Promise.all(lifecycle.running)
  })
  return lifecycle
}

/** Keeps an asynchronous response in `running` until it is over (a synchronous one is over already). */
export function trackResponse (lifecycle: ServerLifecycle, pending: void | Promise<void>): void | Promise<void> {
  if (pending === undefined) return
  const running = lifecycle.running
  running.add(pending)
  pending.then(() => running.delete(pending))
  return pending
}
