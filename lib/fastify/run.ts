import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Socket } from 'node:net'
import type { AnyWsgiInput, Environ, WsgiApp } from '../../types/protocol.js'
import type { HandlerSettings } from '../options.js'
import { isHttp2 } from '../connection/protocol.js'
import { trackResponse } from '../connection/lifecycle.js'
import { closesBeforeBodyEnd } from '../connection/lingering-close.js'
import { CLOSING, connectionOrder, doneWaiting, waitForApp } from '../connection/order.js'
import { openEnviron } from './environ.js'
import { responseGone } from './extensions.js'
import { RawReplyHandler } from './raw-handler.js'
import { SendReplyHandler } from './send-handler.js'

// One request's path through the plugin: in order on its connection, the environ made (or the
// request refused), then the app run by the transport the settings choose.

/**
 * Makes the environ (refusing a request that cannot become one, then reading
 * a buffered body) and runs the app: the whole per-request path. Returns a Promise only when the
 * response continues asynchronously; the server's close() waits for it.
 */
export function runWsgi (request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings): void | Promise<void> {
  return trackResponse(settings.lifecycle, openAndRun(request, reply, app, settings))
}

function openAndRun (request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings): void | Promise<void> {
  const raw = request.raw
  // HTTP/2 streams are independent of each other; only an HTTP/1 connection orders its requests.
  const socket = isHttp2(raw) ? null : raw.socket
  const earlier = socket === null ? undefined : connectionOrder(socket)
  if (earlier === CLOSING) return skipRequest(request, reply)
  let environ: Environ<AnyWsgiInput> | Promise<Environ<AnyWsgiInput>>
  try {
    environ = openEnviron(request, reply, settings)
  } catch (err) {
    refuseRequest(request, reply, err, settings)
    return
  }
  if (environ instanceof Promise || earlier !== undefined) return runInOrder(request, reply, app, settings, environ, socket, earlier)
  return startHandler(request, reply, app, settings, environ)
}

/** Runs the app once its body is read and the app of the request before it on the connection started. */
async function runInOrder (
  request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings,
  environ: Environ<AnyWsgiInput> | Promise<Environ<AnyWsgiInput>>, socket: Socket | null, earlier: Promise<void> | undefined
): Promise<void> {
  let started!: () => void
  const appStarted = new Promise<void>((resolve) => { started = resolve })
  if (socket !== null) waitForApp(socket, appStarted)
  let opened: Environ<AnyWsgiInput>
  try {
    await earlier
    opened = await environ
  } catch (err) {
    refuseRequest(request, reply, err, settings)
    return responseEnd(reply)
  } finally {
    if (socket !== null) doneWaiting(socket, appStarted)
    // The next app starts after this one did (or was refused): its continuation runs after this call.
    started()
  }
  return startHandler(request, reply, app, settings, opened)
}

/**
 * A request received behind an answer that closes the connection: it is not
 * processed (RFC 9112 §9.6), and nothing is sent for it, as the connection
 * closes after the answer before it.
 */
function skipRequest (request: FastifyRequest, reply: FastifyReply): void {
  request.log.debug('The request was not run: an answer before it on this connection closes the connection')
  reply.hijack()
}

function startHandler (
  request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings, environ: Environ<AnyWsgiInput>
): void | Promise<void> {
  const handler = settings.onSendHooks
    ? new SendReplyHandler(request, reply, settings, environ)
    : new RawReplyHandler(request, reply, settings, environ)
  const pending = handler.run(app)
  if (!settings.onSendHooks) return pending
  // reply.send may finish later (onSend hooks can be async): resolving before would let Fastify send again.
  if (pending === undefined) return reply.sent ? undefined : responseEnd(reply)
  return pending.then(() => reply.sent ? undefined : responseEnd(reply))
}

/** Resolves when Fastify is done with the reply: sent, hijacked, or its connection gone. */
function responseEnd (reply: FastifyReply): Promise<void> {
  return new Promise((resolve) => {
    const raw = reply.request.raw
    if (isHttp2(raw)) {
      reply.then(() => resolve(), () => resolve())
      return
    }
    // A response queued behind a pipelined one never ends if the connection dies first: its close ends the wait.
    const socket = raw.socket
    const done = (): void => {
      socket.off('close', done)
      resolve()
    }
    socket.once('close', done)
    reply.then(done, done)
  })
}

/** The app never runs: the body was refused (413), the upload broke off, or the request cannot become an environ. */
function refuseRequest (request: FastifyRequest, reply: FastifyReply, err: unknown, settings: HandlerSettings): void {
  if (responseGone(reply.raw)) {
    // The client left mid-upload: expected, so nothing is logged as a server error.
    request.log.debug({ err }, 'The client went away while sending the request body')
    reply.hijack()
    return
  }
  // A refusal before the read (a declared length over the limit, a bad request) has read nothing of the body; one while reading has no declared length.
  if (closesBeforeBodyEnd(request.raw, 0, settings)) reply.header('connection', 'close')
  reply.send(err)
}
