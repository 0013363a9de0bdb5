import type { FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { Socket } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import type { AnyWsgiInput, Chunk, WsgiApp } from '../types/protocol.js'
import { BaseHandler, ClientDisconnected } from './handler.js'
import type { FileWrapper } from './file-wrapper.js'
import { buildEnviron, type EnvironSettings } from './environ.js'
import { BufferedInput, UnavailableInput, readBody } from './input.js'
import { StreamInput } from './stream-input.js'
import { addHookHeaders, groupRepeatedNames, headerObject, holdsHeaders, hookHeaders } from './response-headers.js'
import { FST_WSGI_APP_FAILED, FST_WSGI_BODY_TOO_LARGE } from './errors.js'
import { replyHasNoSerializer, routeHasNoOnSendHooks, usesFastifyErrorPage } from './fastify-internals.js'
import { ErrorStream } from './error-stream.js'
import { responseGone } from './extensions.js'
import { trackResponse, type ServerLifecycle } from './lifecycle.js'
import { closesBeforeBodyEnd, type LingeringSettings } from './lingering-close.js'
import { CLOSING, connectionOrder, doneWaiting, waitForApp } from './connection-order.js'

/** Per-mount (or per reply.wsgi call) settings, resolved from the plugin options. */
export interface HandlerSettings extends EnvironSettings, LingeringSettings {
  serverSoftwareHeader: string | false
  bodyLimit: number
  input: 'buffer' | 'stream'
  /** Run the app under `validator` (the mount wraps it once; reply.wsgi per call). */
  validate: boolean
  /** Send through reply.send (FastifySendHandler) so onSend hooks run. */
  onSendHooks: boolean
  /** Whether the server is closing: HTTP/1.x connections then close after their response. */
  lifecycle: ServerLifecycle
}

/** How long an aborted response may take to flush what was already written. */
const ABORT_GRACE_MS = 5000

function noop (): void {}

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

function isReadable (value: unknown): value is Readable {
  return typeof (value as Readable | null)?.on === 'function' && typeof (value as Readable).read === 'function'
}

/**
 * Where the request body is. Mounted routes hand the body stream through
 * untouched (a pass-through content-type parser); bodyless methods (GET...)
 * skip Fastify's parsers, so their body, if any, is still on the wire. A
 * reply.wsgi route's own parser may have turned it into a string or an
 * object: its raw bytes are gone, and the reason is returned instead.
 */
function requestBody (request: FastifyRequest): Readable | Buffer | string {
  const body: unknown = request.body
  if (body !== undefined && (isReadable(body) || Buffer.isBuffer(body))) return body
  const raw = request.raw
  const headers = raw.headers
  // HTTP/2 frames a body without either header: a request has none when its HEADERS frame ended the stream.
  // (An HTTP/1 request line may claim 2.0 too; it has no stream, and is refused later.)
  const declared = headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0') ||
    (raw.httpVersionMajor === 2 && (raw as { stream?: Http2ServerRequest['stream'] }).stream?.endAfterHeaders === false)
  if (!declared) return EMPTY_BODY
  if (body === undefined && !raw.readableEnded) return raw
  return `the route's content-type parser already parsed the body (${headers['content-type']}), so its raw bytes are gone; ` +
    'mount the app with fastifyWsgi\'s "app" option, or give the route a parser that keeps the body as a Buffer'
}

/** An error of this package's for a request the client got wrong (FST_WSGI_*, 4xx): its message is ours, not the app's. */
function isClientErrorOfOurs (err: Error): boolean {
  const { code, statusCode } = err as Error & { code?: unknown, statusCode?: unknown }
  return typeof code === 'string' && code.startsWith('FST_WSGI_') && typeof statusCode === 'number' && statusCode < 500
}

const EMPTY_BODY = Buffer.alloc(0)
/** Shared by every request without a body: reading nothing leaves no state to keep apart. */
const EMPTY_INPUT = new BufferedInput(EMPTY_BODY)

/**
 * Opens wsgi.input in the configured mode. Only a buffered body still on the
 * wire needs waiting for (it is read here, before the app runs): everything
 * else is synchronous, so the common bodiless request stays on a sync path.
 */
function openInput (request: FastifyRequest, settings: HandlerSettings): AnyWsgiInput | Promise<AnyWsgiInput> {
  const limit = settings.bodyLimit
  // A declared length over the limit is refused before the app runs, in both modes.
  if (Number(request.headers['content-length']) > limit) throw new FST_WSGI_BODY_TOO_LARGE(limit)
  const body = requestBody(request)
  if (typeof body === 'string') return new UnavailableInput(body)
  if (settings.input === 'stream') {
    return new StreamInput(Buffer.isBuffer(body) ? Readable.from([body], { objectMode: false }) : body, limit)
  }
  if (body === EMPTY_BODY) return EMPTY_INPUT
  if (Buffer.isBuffer(body)) return new BufferedInput(body)
  return readBody(body, limit).then((buffer) => new BufferedInput(buffer))
}

/** Drives BaseHandler over a Fastify reply: the only place that writes `reply.raw`. */
export class FastifyHandler extends BaseHandler<AnyWsgiInput> {
  protected readonly request: FastifyRequest
  protected readonly reply: FastifyReply
  protected readonly res: ServerResponse
  protected readonly errors: ErrorStream
  protected readonly streamInput: StreamInput | null
  /** HTTP/1.x: the connection is ours to keep or close; HTTP/2 multiplexes streams over a session. */
  protected readonly http1: boolean
  protected readonly settings: HandlerSettings

  constructor (request: FastifyRequest, reply: FastifyReply, settings: HandlerSettings, input: AnyWsgiInput) {
    const errors = new ErrorStream(request.log)
    super(buildEnviron(request, reply, settings, input, errors))
    this.request = request
    this.reply = reply
    this.res = reply.raw as ServerResponse
    this.errors = errors
    this.streamInput = settings.input === 'stream' && input instanceof StreamInput ? input : null
    this.http1 = request.raw.httpVersionMajor === 1
    this.settings = settings
    this.serverSoftware = settings.serverSoftwareHeader
  }

  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    this.reply.hijack()
    const hooked = hookHeaders(this.reply)
    const withHookHeaders = hooked !== null && addHookHeaders(headers, hooked)
    if (!this.http1) {
      // HTTP/2 has no reason phrase (RFC 9113 §8.3.2) and no connection to close; its compatibility
      // layer takes an object at half the cost of a list (for a list it first removes every name).
      this.res.writeHead(statusCode, headerObject(headers))
      return
    }
    // Only a response that already holds headers needs repeated names grouped: keep the Set off the common path.
    const list = withHookHeaders ? groupRepeatedNames(headers) : headers
    if (this.mustCloseConnection()) list.push('Connection', 'close')
    // Node's own phrase for the code is the usual one: left to Node, it is not checked again. (Unless
    // a plugin set reply.raw.statusMessage, which Node would keep: the app's phrase wins then.)
    if (reason === STATUS_CODES[statusCode] && this.res.statusMessage === undefined) this.res.writeHead(statusCode, list)
    else this.res.writeHead(statusCode, reason, list)
  }

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

  /** The file fast path (E2): the file is piped into the response by Node's streams. */
  protected sendFile (wrapper: FileWrapper): boolean | Promise<boolean> {
    if (this.clientGone()) throw new ClientDisconnected()
    this.sendHeaders()
    // A HEAD or 204/304 response sends no body: iterating stops at once and closes the file.
    if (this.discardBody) return false
    const stream = wrapper.openStream(this.declaredLength)
    const res = this.res
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        res.off('close', onClose)
        stream.off('error', onError)
        stream.off('end', onEnd)
        stream.unpipe(res)
      }
      const onClose = (): void => { cleanup(); reject(new ClientDisconnected()) }
      const onError = (err: Error): void => { cleanup(); reject(err) }
      const onEnd = (): void => {
        cleanup()
        this.bytesSent = stream.bytesRead
        resolve(true)
      }
      res.on('close', onClose)
      stream.on('error', onError)
      stream.on('end', onEnd)
      stream.pipe(res, { end: false })
    })
  }

  protected writeBody (chunk: Chunk): boolean {
    return this.res.write(chunk)
  }

  protected waitForDrain (): Promise<void> {
    const res = this.res
    return new Promise((resolve) => {
      const done = (): void => {
        res.off('drain', done)
        res.off('close', done)
        resolve()
      }
      res.on('drain', done)
      res.on('close', done)
    })
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
  }

  /** Ends the response; an unread rest of the body is discarded as it arrives. */
  protected end (chunk?: Chunk): void {
    // The bytes sent are complete, but the app was wrong about them: do not reuse the connection.
    if (!this.keepConnection && this.http1) closeAfterResponse(this.res)
    if (chunk === undefined) this.res.end()
    else this.res.end(chunk)
    this.streamInput?.discardRest()
  }

  /**
   * Ends the connection without ending the response: the client gets the
   * bytes already written, then the connection closes before the body's end
   * (no last chunk, or fewer bytes than Content-Length), so it cannot take the
   * response for complete. A client that stops reading is cut off after a grace period.
   */
  protected abortResponse (): void {
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

  /** Whether the response that went out is framed only by the connection's end. */
  protected closeDelimited (): boolean {
    return this.declaredLength === -1 && !this.res.chunkedEncoding
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

// Node's ServerResponse adds Date itself unless the app sent one: the rule of D6.
FastifyHandler.prototype.addDate = false

/**
 * The `onSendHooks` transport: the response goes through reply.send, so
 * Fastify's onSend hooks (compression, ETag) see it. Status and headers are
 * staged on the reply; a body written in one step is sent as one Buffer, any
 * other body as a stream whose writes wait for drain. Fastify then owns the
 * wire: it adds its own framing and, for a stream that fails before its first
 * byte went out, sends the error response.
 */
class FastifySendHandler extends FastifyHandler {
  /** The body stream handed to reply.send, once the first body bytes come. */
  private body: PassThrough | null = null
  /** The flat header list staged on the reply, taken back if an error response replaces it. */
  private staged: Array<string | string[]> | null = null

  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    const reply = this.reply
    reply.code(statusCode)
    // Node sends its own phrase for the code unless told otherwise (or a plugin set one: the app's replaces it).
    if (this.http1 && (reason !== STATUS_CODES[statusCode] || this.res.statusMessage !== undefined)) this.res.statusMessage = reason
    // The body's framing is the app's and Fastify's, never a hook's. (Only a Transfer-Encoding
    // that is there is removed: Node stops chunking a response whose Transfer-Encoding was removed.)
    if (holdsHeaders(reply)) {
      if (reply.hasHeader('content-length')) reply.removeHeader('content-length')
      if (reply.hasHeader('transfer-encoding')) reply.removeHeader('transfer-encoding')
    }
    const list = this.staged = groupRepeatedNames(headers)
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i] as string
      // The app's value wins a clash, except Set-Cookie, where the hooks' cookies stay (reply.header appends them).
      if (name.length === 10 && name.toLowerCase() === 'set-cookie') keepHookCookies(reply)
      reply.header(name, list[i + 1])
    }
    if (this.mustCloseConnection()) reply.header('connection', 'close')
  }

  /**
   * The body stream may fail before Fastify wrote a byte of it (its onSend
   * hooks still running, or the first chunk not yet piped). Then the error
   * goes where an error before headers goes: Fastify's error handler answers
   * (and logs it), without the app's status and headers; its default handler,
   * which shows the message, gets FST_WSGI_APP_FAILED instead.
   */
  protected handleError (thrown: unknown): void {
    const body = this.body
    if (body === null || this.res.headersSent || this.clientGone() || !(thrown instanceof Error) || thrown instanceof ClientDisconnected) {
      super.handleError(thrown)
      return
    }
    this.errors.flush()
    // A body exists, so writeHead staged the headers.
    const staged = this.staged as Array<string | string[]>
    for (let i = 0; i < staged.length; i += 2) this.reply.removeHeader(staged[i] as string)
    this.reply.code(500)
    if (this.http1) this.res.statusMessage = ''
    // Fastify's default handler would show the message: it gets a fixed error, the app's as its cause (logged with it).
    body.destroy(usesFastifyErrorPage(this.request) ? new FST_WSGI_APP_FAILED({ cause: thrown }) : thrown)
  }

  /** Fastify framed the response (an onSend hook may have dropped a Content-Length): ask the response itself. */
  protected closeDelimited (): boolean {
    return this.res.headersSent && !this.res.chunkedEncoding && !this.res.hasHeader('content-length')
  }

  /** Files are iterated into the body stream: reply.send's hooks must see their bytes. */
  protected sendFile (): boolean {
    return false
  }

  protected writeBody (chunk: Chunk): boolean {
    let body = this.body
    if (body === null) {
      body = this.body = new PassThrough()
      // Until Fastify pipes it (after async onSend hooks), an error on it is ours to report, not uncaught.
      body.on('error', noop)
      this.reply.send(body)
    }
    return body.write(chunk)
  }

  protected waitForDrain (): Promise<void> {
    const body = this.body as PassThrough
    const res = this.res
    return new Promise((resolve) => {
      const done = (): void => {
        body.off('drain', done)
        body.off('close', done)
        res.off('close', done)
        resolve()
      }
      body.on('drain', done)
      body.on('close', done)
      res.on('close', done)
    })
  }

  protected end (chunk?: Chunk): void {
    const body = this.body
    if (body !== null) body.end(chunk)
    else this.reply.send(chunk === undefined ? undefined : oneChunkPayload(this.request, this.reply, chunk))
    // The bytes sent are complete, but the app was wrong about them: do not reuse the connection.
    if (!this.keepConnection && this.http1) closeAfterResponse(this.res)
    this.streamInput?.discardRest()
  }

  protected abortResponse (): void {
    const body = this.body
    // Nothing reached Fastify yet, or only a reset shows the cut: end the connection as the reply.raw transport does.
    if (body === null || (this.http1 && this.closeDelimited())) return super.abortResponse()
    this.errors.flush()
    // Fastify destroys the response, so the client sees it incomplete (or gets the error response if no byte went out).
    body.destroy(new Error('The WSGI response was aborted after it started'))
  }
}

// reply.send frames the body: Fastify works out its Content-Length, after the onSend hooks that may change it.
FastifySendHandler.prototype.addLength = false

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

/** A media type Fastify keeps as it is for a string payload: well-formed and not JSON (which gets a charset added). */
const KEPT_TEXT_TYPE = /^(?!.*json)[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:;|$)/i

/** The last Content-Type looked at: an app sends the same few, so the pattern runs once per new one. */
let lastType = { value: '', kept: false }

function keptTextType (value: string): boolean {
  if (value !== lastType.value) lastType = { value, kept: KEPT_TEXT_TYPE.test(value) }
  return lastType.kept
}

/**
 * A one-chunk body for reply.send. onSend hooks are promised a Buffer, and
 * Fastify treats a string as text to type or serialize, so a string becomes
 * a Buffer, unless nothing could tell: no onSend hook on the route, no
 * reply.serializer(), and a Content-Type Fastify keeps. Then the string goes
 * as it is, and Node writes it with the headers in one step, as a native
 * route's string (about 0.5 µs per request less in-process than a Buffer).
 */
function oneChunkPayload (request: FastifyRequest, reply: FastifyReply, chunk: Chunk): Chunk {
  if (typeof chunk !== 'string') return chunk
  const type = reply.getHeader('content-type')
  const keptAsIs = typeof type === 'string' && keptTextType(type) && routeHasNoOnSendHooks(request) && replyHasNoSerializer(reply)
  return keptAsIs ? chunk : Buffer.from(chunk)
}

/** Moves cookies a plugin set on reply.raw into the reply's own headers, where the app's are appended. */
function keepHookCookies (reply: FastifyReply): void {
  const cookies = reply.getHeader('set-cookie')
  if (cookies === undefined) return
  reply.removeHeader('set-cookie')
  reply.header('set-cookie', cookies)
}

/**
 * Opens the input (reading a buffered body first), builds the environ and
 * runs the app: the whole per-request path. Returns a Promise only when the
 * response continues asynchronously; the server's close() waits for it.
 */
export function runWsgi (request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings): void | Promise<void> {
  return trackResponse(settings.lifecycle, openAndRun(request, reply, app, settings))
}

function openAndRun (request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings): void | Promise<void> {
  const raw = request.raw
  // HTTP/2 streams are independent of each other; only an HTTP/1 connection orders its requests.
  const socket = raw.httpVersionMajor === 1 ? raw.socket : null
  const earlier = socket === null ? undefined : connectionOrder(socket)
  if (earlier === CLOSING) return skipRequest(request, reply)
  let input: AnyWsgiInput | Promise<AnyWsgiInput>
  try {
    input = openInput(request, settings)
  } catch (err) {
    refuseRequest(request, reply, err, settings)
    return
  }
  if (input instanceof Promise || earlier !== undefined) return runInOrder(request, reply, app, settings, input, socket, earlier)
  return startHandler(request, reply, app, settings, input)
}

/** Runs the app once its body is read and the app of the request before it on the connection started. */
async function runInOrder (
  request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings,
  input: AnyWsgiInput | Promise<AnyWsgiInput>, socket: Socket | null, earlier: Promise<void> | undefined
): Promise<void> {
  let started = noop
  const appStarted = new Promise<void>((resolve) => { started = resolve })
  if (socket !== null) waitForApp(socket, appStarted)
  let opened: AnyWsgiInput
  try {
    await earlier
    opened = await input
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

function startHandler (request: FastifyRequest, reply: FastifyReply, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings, input: AnyWsgiInput): void | Promise<void> {
  let handler: FastifyHandler
  try {
    handler = settings.onSendHooks
      ? new FastifySendHandler(request, reply, settings, input)
      : new FastifyHandler(request, reply, settings, input)
  } catch (err) {
    // The request cannot become an environ (ambiguous headers, a bad request target, a wrong scriptName).
    refuseRequest(request, reply, err, settings)
    return
  }
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
    if (raw.httpVersionMajor !== 1) {
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
  // A refusal by the declared length has read nothing of the body yet; one while reading has no declared length.
  if (closesBeforeBodyEnd(request.raw, 0, settings)) reply.header('connection', 'close')
  reply.send(err)
}
