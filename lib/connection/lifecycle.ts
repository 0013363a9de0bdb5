import type { FastifyInstance } from 'fastify'
import type { EventEmitter } from 'node:events'
import type { Server } from 'node:http'
import type { Http2Session } from 'node:http2'
import type { Socket } from 'node:net'

// The one Fastify-aware file of this layer: it hooks the server's close() to track connection state.

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
 * still running to end and close its body (PEP 3333: close() is always called).
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
  if ('closeIdleConnections' in fastify.server) spareFreshConnections(fastify.server as Server)
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

/** How long a connection accepted just before close() has to start its first request. */
const FIRST_REQUEST_GRACE_MS = 1000

/**
 * Node's server.close() destroys every connection without a request under
 * way (closeIdleConnections). Since Node 26 that includes a connection just
 * accepted whose first request is still on its way (20 to 24 leave such a
 * connection open, however long it then sends nothing): its client, which
 * sent the request, gets a reset or a hang-up, and under load a CLI worker
 * stopping for a reload drops requests. On every Node, such a fresh connection
 * (nothing read from it yet) has FIRST_REQUEST_GRACE_MS to start a request,
 * which is then answered with `Connection: close`; one that sends nothing is
 * destroyed then.
 */
function spareFreshConnections (server: Server): void {
  const open = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  const closeIdleConnections = server.closeIdleConnections
  server.closeIdleConnections = function closeIdleButFreshConnections (this: Server) {
    const fresh = [...open].filter((socket) => socket.bytesRead === 0 && !socket.destroyed)
    for (const socket of fresh) socket.destroy = keepOpen
    try {
      closeIdleConnections.call(this)
    } finally {
      // Back to Socket.prototype.destroy.
      for (const socket of fresh) delete (socket as Partial<Socket>).destroy
    }
    for (const socket of fresh) setTimeout(destroyIfNothingRead, FIRST_REQUEST_GRACE_MS, socket).unref()
  }
}

// Node 20 to 24 never destroy a fresh connection here, so only a run under 26 reaches this.
/* c8 ignore next 3 */
function keepOpen (this: Socket): Socket {
  return this
}

function destroyIfNothingRead (socket: Socket): void {
  if (socket.bytesRead === 0) socket.destroy()
}
