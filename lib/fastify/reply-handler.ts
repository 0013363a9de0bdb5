import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { AnyWsgiInput, Chunk, Environ } from '../../types/protocol.js'
import { BaseHandler } from '../wsgi/handler.js'
import type { ErrorStream } from '../wsgi/error-stream.js'
import { StreamInput } from '../wsgi/stream-input.js'
import type { HandlerSettings } from '../options.js'
import { isHttp2 } from '../connection/protocol.js'
import { closesBeforeBodyEnd } from '../connection/lingering-close.js'
import { usesFastifyErrorPage } from './internals.js'
import { responseGone } from './extensions.js'

/** How long an aborted response may take to flush what was already written. */
const ABORT_GRACE_MS = 5000

function destroySocket (socket: Socket): void {
  socket.destroy()
}

/** Half-closes once what was written is out; a client that stops reading is cut off after a grace period. */
function closeSocketSoon (socket: Socket): void {
  socket.destroySoon()
  setTimeout(destroySocket, ABORT_GRACE_MS, socket).unref()
}

function resetSocket (socket: Socket): void {
  socket.resetAndDestroy()
}

/**
 * Runs after Node's own 'finish' step, which hands the connection to the
 * response of a request pipelined behind this one, if any: that one is
 * still answered (Fastify adds `Connection: close` to it while closing).
 */
function closeIfIdle (socket: Socket): void {
  if ((socket as Socket & { _httpMessage: unknown })._httpMessage === null) socket.destroySoon()
}

/** An error of this package's for a request the client got wrong (FST_WSGI_*, 4xx): its message is ours, not the app's. */
function isClientErrorOfOurs (err: Error): boolean {
  const { code, statusCode } = err as Error & { code?: unknown, statusCode?: unknown }
  return typeof code === 'string' && code.startsWith('FST_WSGI_') && typeof statusCode === 'number' && statusCode < 500
}

/**
 * BaseHandler over a Fastify request: what both transports share (the
 * connection's fate, logging, the error page, cutting a response short).
 * RawReplyHandler writes `reply.raw`; SendReplyHandler goes through `reply.send`.
 */
export abstract class ReplyHandler extends BaseHandler<AnyWsgiInput> {
  protected readonly request: FastifyRequest
  protected readonly reply: FastifyReply
  protected readonly res: ServerResponse
  protected readonly errors: ErrorStream
  protected readonly streamInput: StreamInput | null
  /** HTTP/1.x: the connection is ours to keep or close; HTTP/2 multiplexes streams over a session. */
  protected readonly http1: boolean
  protected readonly settings: HandlerSettings

  /** `environ` comes from openEnviron: the request was accepted before a handler is made. */
  constructor (request: FastifyRequest, reply: FastifyReply, settings: HandlerSettings, environ: Environ<AnyWsgiInput>) {
    super(environ)
    this.request = request
    this.reply = reply
    this.res = reply.raw as ServerResponse
    this.errors = environ['wsgi.errors'] as ErrorStream
    const input = environ['wsgi.input']
    this.streamInput = settings.input === 'stream' && input instanceof StreamInput ? input : null
    this.http1 = !isHttp2(request.raw)
    this.settings = settings
    this.serverSoftware = settings.serverSoftware
  }

  /** Ends the response with its last chunk, if any; the transport's own step. */
  protected abstract end (chunk?: Chunk): void

  /** Whether the response that went out is framed only by the connection's end. */
  protected abstract closeDelimited (): boolean

  /** The connection closes after this response: an unread upload too big to drain, or a server closing. */
  protected mustCloseConnection (): boolean {
    return this.mustCloseForUnreadBody() || (this.settings.lifecycle.closing && this.http1)
  }

  /**
   * A streamed body the app did not read to its end may still be arriving:
   * a small rest is drained after the response so the connection stays alive,
   * a larger or unknown rest closes it (lingering) instead of reading an upload
   * nobody wants. A buffered body was read whole before the app ran.
   */
  protected mustCloseForUnreadBody (): boolean {
    const input = this.streamInput
    return input !== null && closesBeforeBodyEnd(this.request.raw, input.bytesReceived, this.settings)
  }

  protected endResponse (chunk?: Chunk): void {
    this.errors.flush()
    // A server that is closing closes the connection once idle, or close() would wait for it to idle out.
    // (The request's socket: a response queued behind a pipelined one has none of its own yet.)
    if (this.settings.lifecycle.closing && this.http1) {
      const connection = this.request.raw.socket
      this.res.once('finish', () => closeIfIdle(connection))
    }
    this.end(chunk)
    // An unread rest of the body is discarded as it arrives.
    this.streamInput?.discardRest()
  }

  /** The bytes sent are complete, but the app was wrong about them (keepConnection false): the connection is not reused. */
  protected closeIfMisframed (): void {
    if (!this.keepConnection && this.http1) closeAfterResponse(this.res)
  }

  /**
   * Ends the connection without ending the response: the client gets the
   * bytes already written, then the connection closes before the body's end
   * (no last chunk, or fewer bytes than Content-Length), so it cannot take the
   * response for complete. A client that stops reading is cut off after a grace period.
   */
  protected cutConnection (): void {
    this.errors.flush()
    if (!this.reply.sent) this.reply.hijack()
    if (!this.http1) {
      // With an error, the stream is reset with INTERNAL_ERROR: a plain close would read as a clean end.
      this.res.destroy(new Error('The WSGI response was aborted'))
      return
    }
    const socket = this.res.socket
    if (socket === null || socket.destroyed) {
      this.res.destroy()
      return
    }
    // A body framed by neither Content-Length nor chunks (HTTP/1.0) ends with the connection, so a
    // clean close would read as complete: the connection is reset instead, and the client sees an error.
    const cut = this.headersSent && !this.discardBody && this.closeDelimited() ? resetSocket : closeSocketSoon
    // Node 24+ keeps a tick's chunked writes in the response itself until its own process.nextTick
    // flush: ending the socket now would drop them (and the late flush would then fail as a write
    // after end, cutting at once). The cut waits for that flush, so what was written goes out first.
    process.nextTick(cut, socket)
  }

  protected clientGone (): boolean {
    return responseGone(this.res)
  }

  protected logException (err: unknown, message: string): void {
    this.request.log.error({ err }, message)
  }

  protected logDisconnect (err: unknown): void {
    this.request.log.debug({ err }, 'The client went away before the WSGI response was complete')
  }

  /**
   * Before any header was sent: a setErrorHandler of the user's (or a route's
   * errorHandler) gets the app's own error and decides the answer, as do our
   * own 4xx errors (a body over bodyLimit met while the app read it: 413, with
   * our message). Fastify's default handler would put the error's message in
   * its 500 body, and legacy apps put secrets, SQL and paths in theirs: under
   * it, wsgiref's error_output answers instead, through this transport, with
   * the fixed page (errorStatus, errorHeaders, errorBody), and logs the error
   * once, with the request id.
   */
  protected errorOutput (err: Error): void {
    // What the app wrote to wsgi.errors is logged before its error.
    this.errors.flush()
    if (!isClientErrorOfOurs(err) && usesFastifyErrorPage(this.request)) {
      super.errorOutput(err)
      return
    }
    if (this.mustCloseConnection()) this.reply.header('connection', 'close')
    this.reply.send(err)
    this.streamInput?.discardRest()
  }
}

// Node's ServerResponse adds Date itself unless the app sent one (wsgiref adds Date only where the server does not).
ReplyHandler.prototype.addDate = false

/**
 * Closes the connection after this response: with `Connection: close` while
 * its headers are not out yet, else once its last bytes are handed to the
 * socket, before the server reads a pipelined request.
 */
function closeAfterResponse (res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close')
  // The socket is there until the response finishes.
  else res.once('prefinish', () => { (res.socket as Socket).destroySoon() })
}
