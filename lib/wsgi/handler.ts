import type { AnyWsgiInput, Body, Chunk, Environ, ResponseHeader, StartResponse, WriteCallable, WsgiApp, WsgiInput } from '../../types/protocol.js'
import { checkResponseHeaders, parseStatus } from './response-checks.js'
import { describeValue, isThenable } from './values.js'
import { formatDateTime } from './util.js'
import { FileWrapper } from './file-wrapper.js'
import {
  FST_WSGI_APP_THREW_NON_ERROR,
  FST_WSGI_CONTENT_LENGTH_MISMATCH,
  FST_WSGI_HEADERS_ALREADY_SET,
  FST_WSGI_INVALID_BODY,
  FST_WSGI_INVALID_CHUNK,
  FST_WSGI_INVALID_STATUS,
  FST_WSGI_NO_START_RESPONSE,
  FST_WSGI_WRITE_BEFORE_START
} from '../errors.js'

/** Raised inside the handler when the client went away: expected, logged quietly (docs/conformance.md A2). */
export class ClientDisconnected extends Error {
  readonly code = 'FST_WSGI_CLIENT_DISCONNECTED'
  constructor () {
    super('The client closed the connection before the response was complete')
  }
}

/** The codes of a write or read that failed because the other side went away (Python's ConnectionError family). */
const DISCONNECT_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE'
])

/** Whether an error says the client went away, rather than that something broke. */
export function isDisconnect (err: unknown): boolean {
  return DISCONNECT_CODES.has((err as NodeJS.ErrnoException | null)?.code ?? '')
}

/** One list for every handler, as wsgiref's class attribute; frozen, so a subclass assigns its own. */
const ERROR_HEADERS: readonly ResponseHeader[] = Object.freeze([Object.freeze(['Content-Type', 'text/plain'])]) as readonly ResponseHeader[]

let cachedDateSecond = -1
let cachedDate = ''

/** The last status line and its reason phrase: apps send the same few statuses, usually the same string. */
let lastStatus = { status: '', reason: '' }

function reasonPhrase (status: string): string {
  if (status !== lastStatus.status) lastStatus = { status, reason: status.slice(4) }
  return lastStatus.reason
}

/** The Date header value, formatted at most once a second. */
function httpDate (): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== cachedDateSecond) {
    cachedDateSecond = second
    cachedDate = formatDateTime(now)
  }
  return cachedDate
}

function checkBodyChunk (data: unknown): Chunk {
  if (typeof data === 'string' || data instanceof Uint8Array) return data
  throw new FST_WSGI_INVALID_CHUNK(describeValue(data))
}

/** The error for a result that is not an iterable of chunks, with the fix for the usual mistakes. */
function notABody (result: unknown): Error {
  // A string or a Buffer is itself iterable, into characters or numbers: say what the app meant.
  if (typeof result === 'string') return new FST_WSGI_INVALID_BODY(`a string ${describeValue(result)}: return a list of chunks, such as [body]`)
  if (result instanceof Uint8Array) {
    return new FST_WSGI_INVALID_BODY(`a ${result.constructor.name} of ${result.byteLength} bytes: return a list of chunks, such as [body]`)
  }
  if (result === undefined) return new FST_WSGI_INVALID_BODY('undefined: did the app forget to return its body? An empty body is []')
  return new FST_WSGI_INVALID_BODY(describeValue(result))
}

function byteLength (chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength
}

/** Stops an iterator after an error: the error, not one from return(), is what gets reported. */
function returnQuietly (iterator: Iterator<unknown>): void {
  try {
    iterator.return?.()
  } catch {}
}

/**
 * The protocol of CPython's `wsgiref.handlers.BaseHandler`, transport-agnostic:
 * run the app, validate startResponse, send headers lazily with the preamble,
 * write the body with backpressure, finish the content, close the body, and
 * handle errors. Transports subclass it and implement the abstract steps; one
 * instance serves one request. `Input` is the kind of wsgi.input the
 * transport puts in the environ.
 */
export abstract class BaseHandler<Input extends AnyWsgiInput = WsgiInput> {
  // Knobs, as wsgiref's class attributes: they live on the prototype (set below the class), so
  // no request pays for copying them; a subclass or an instance assigns its own.
  /** Adds Date and Server (wsgiref's origin_server); a CGI gateway leaves them to the web server. */
  declare originServer: boolean
  /** The Server header value, or false for none. */
  declare serverSoftware: string | false
  /**
   * Whether the handler adds Date itself; false for transports that already
   * add one unless the app did (Node's ServerResponse does, from a cached value).
   */
  declare addDate: boolean
  /**
   * Whether the handler adds the Content-Length it worked out for a one-chunk
   * or empty body; false for a transport that frames the body itself, which
   * still gets it for HEAD, where no body shows the length.
   */
  declare addLength: boolean
  declare errorStatus: string
  declare errorHeaders: readonly ResponseHeader[]
  declare errorBody: string

  readonly environ: Environ<Input>
  /** The status line given to startResponse, e.g. `'200 OK'`; null until then. */
  status: string | null = null
  statusCode = 0
  headers: ResponseHeader[] | null = null
  headersSent = false
  /** Body bytes written so far (counted where a Content-Length is enforced). */
  bytesSent = 0
  result: Body | null = null
  /** The startResponse callable given to the app. */
  readonly startResponse: StartResponse

  /** Content-Length the app declared, or -1. */
  protected declaredLength = -1
  private hasDate = false
  private hasServer = false
  /** Content-Length the handler worked out (one-chunk or empty body), or -1. */
  private computedLength = -1
  /** HEAD, 204 and 304 responses carry no body (RFC 9110 §6.4.1; a 1xx status is refused as a final one). */
  protected discardBody = false
  /** Set once no more body bytes may be written: the iteration stops. */
  private bodyComplete = false
  /**
   * False once the response went wrong in a way the framing hides (a body cut
   * at its declared length): the transport closes the connection after it.
   */
  protected keepConnection = true
  private readonly headRequest: boolean

  constructor (environ: Environ<Input>) {
    this.environ = environ
    this.headRequest = environ.REQUEST_METHOD === 'HEAD'
    // Bound, not an arrow function: a per-request closure stored on the handler makes V8 pretenure
    // the environ's allocation sites, and every request's objects then die in old space (issue #17).
    this.startResponse = this.handleStartResponse.bind(this)
  }

  // --- Transport steps: each subclass implements these (wsgiref's _write, _flush...). ---

  /** Starts the response with a status and a flat `[name, value, name, value...]` header list. */
  protected abstract writeHead (statusCode: number, reason: string, headers: string[]): void
  /** Writes body bytes; returns false when the transport's buffer is full (wait for drain). */
  protected abstract writeBody (chunk: Chunk): boolean
  /** Resolves when the transport can take more bytes, or when the client is gone. */
  protected abstract waitForDrain (): Promise<void>
  /** Ends the response, optionally with a last chunk written in the same step. */
  protected abstract endResponse (chunk?: Chunk): void
  /** Ends the connection so the client sees an incomplete response. */
  protected abstract abortResponse (): void
  /** True once the client has gone away. */
  protected abstract clientGone (): boolean
  /** Logs an app or server error with the request's context. */
  protected abstract logException (err: unknown, message: string): void
  /** Logs an expected client disconnect at a quiet level. */
  protected abstract logDisconnect (err: unknown): void

  /**
   * Runs the app for this request (wsgiref's run). Every error is handled
   * here, never thrown. A response that completes synchronously (a sync app
   * and a body the transport takes at once) returns nothing; otherwise the
   * returned Promise resolves when the response is over.
   */
  run (app: WsgiApp<Input>): void | Promise<void> {
    let result: unknown
    try {
      result = app(this.environ, this.startResponse)
      if (isThenable(result)) return this.finishAfter(result)
      this.result = result as Body
      const pending = this.finishResponse()
      if (pending !== undefined) return pending.then(undefined, (err: unknown) => this.fail(err))
    } catch (err) {
      this.fail(err)
    }
  }

  private async finishAfter (promise: PromiseLike<unknown>): Promise<void> {
    try {
      this.result = await promise as Body
      await this.finishResponse()
    } catch (err) {
      this.fail(err)
    }
  }

  private fail (err: unknown): void {
    this.closeAfterError()
    this.handleError(err)
  }

  /** The startResponse callable (wsgiref's start_response; docs/conformance.md C1-C7). */
  protected handleStartResponse (status: string, headers: ResponseHeader[], excInfo?: unknown): WriteCallable {
    if (excInfo != null) {
      // Headers already sent: too late to replace the response, so the app's error propagates (PEP 3333).
      if (this.headersSent) throw excInfo
    } else if (this.status !== null) {
      throw new FST_WSGI_HEADERS_ALREADY_SET()
    }
    const statusCode = parseStatus(status)
    const facts = checkResponseHeaders(headers)
    this.status = status
    this.statusCode = statusCode
    this.headers = headers
    this.declaredLength = facts.contentLength
    this.discardBody = this.headRequest || statusCode === 204 || statusCode === 304
    this.hasDate = facts.hasDate
    this.hasServer = facts.hasServer
    // The legacy write() cannot wait for drain: PEP 3333 lets it buffer. (Made per call: a second
    // call, with exc_info, is rare, and a field to keep one in would cost every request.)
    return this.legacyWrite.bind(this)
  }

  /** The legacy write callable: it cannot report backpressure, so nothing waits for drain. */
  private legacyWrite (data: unknown): void {
    this.sendChunk(data)
  }

  /**
   * Iterates the body and writes it, then finishes the response (wsgiref's
   * finish_response). Stays synchronous while the transport takes every
   * chunk at once; continues asynchronously after the first wait for drain.
   */
  protected finishResponse (): void | Promise<void> {
    const result: unknown = this.result
    if (result instanceof FileWrapper && result.file !== null) return this.finishFile(result)
    if (Array.isArray(result)) {
      if (result.length === 1 && !this.headersSent && this.declaredLength === -1) {
        this.finishSingleChunk(result[0])
        return
      }
      for (let i = 0; i < result.length && !this.bodyComplete; i++) {
        if (this.sendChunk(result[i])) return this.finishArrayAfterDrain(result, i + 1)
      }
    } else if (typeof (result as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function') {
      return this.finishAsyncIterable(result as AsyncIterable<unknown>)
    } else if (typeof result === 'string' || result instanceof Uint8Array || typeof (result as Iterable<unknown> | null)?.[Symbol.iterator] !== 'function') {
      throw notABody(result)
    } else {
      return this.finishIterator((result as Iterable<unknown>)[Symbol.iterator]())
    }
    this.closeResult()
    this.finishContent()
  }

  /**
   * A file body (docs/conformance.md E2): its size is its Content-Length unless the app
   * declared one, then the transport's fast path sends it, or it is iterated.
   */
  private async finishFile (wrapper: FileWrapper): Promise<void> {
    if (this.status === null) throw new FST_WSGI_WRITE_BEFORE_START()
    if (this.declaredLength === -1 && !this.headersSent) {
      this.declaredLength = await wrapper.size()
      this.computedLength = this.declaredLength
    }
    if (!await this.sendFile(wrapper)) return this.finishAsyncIterable(wrapper)
    this.closeResult()
    this.finishContent()
  }

  /**
   * wsgiref's sendfile(): a transport that can send a file faster than block
   * by block does so (headers first, at most `declaredLength` bytes, counted
   * in `bytesSent`) and returns true; false means "iterate it".
   */
  protected sendFile (_wrapper: FileWrapper): boolean | Promise<boolean> {
    return false
  }

  private async finishArrayAfterDrain (result: unknown[], from: number): Promise<void> {
    await this.drain()
    for (let i = from; i < result.length && !this.bodyComplete; i++) {
      if (this.sendChunk(result[i])) await this.drain()
    }
    this.closeResult()
    this.finishContent()
  }

  private async finishAsyncIterable (result: AsyncIterable<unknown>): Promise<void> {
    for await (const chunk of result) {
      if (this.sendChunk(chunk)) await this.drain()
      if (this.bodyComplete) break
    }
    this.closeResult()
    this.finishContent()
  }

  /**
   * Iterates a sync iterator as for-of would, without its async cost: an
   * iterator left early, by an error of ours or a stop, gets return() (PEP 3333: close() is always called).
   */
  private finishIterator (iterator: Iterator<unknown>): void | Promise<void> {
    for (let step = iterator.next(); step.done !== true; step = iterator.next()) {
      let mustWait: boolean
      try {
        mustWait = this.sendChunk(step.value)
      } catch (err) {
        returnQuietly(iterator)
        throw err
      }
      if (this.bodyComplete) {
        iterator.return?.()
        break
      }
      if (mustWait) return this.finishIteratorAfterDrain(iterator)
    }
    this.closeResult()
    this.finishContent()
  }

  private async finishIteratorAfterDrain (iterator: Iterator<unknown>): Promise<void> {
    try {
      await this.drain()
    } catch (err) {
      returnQuietly(iterator)
      throw err
    }
    await this.finishIterator(iterator)
  }

  /**
   * A one-element array body: its length is known, so it gets Content-Length
   * (wsgiref's set_content_length) and goes out with the headers in one transport step.
   */
  private finishSingleChunk (data: unknown): void {
    if (this.status === null) throw new FST_WSGI_WRITE_BEFORE_START()
    const chunk = checkBodyChunk(data)
    this.closeResult()
    if (this.clientGone()) throw new ClientDisconnected()
    // Worked out only where it becomes a header: a transport that frames the body itself needs it for HEAD alone.
    if (this.addLength || this.headRequest) this.computedLength = byteLength(chunk)
    this.sendHeaders()
    this.endResponse(this.discardBody || chunk.length === 0 ? undefined : chunk)
  }

  /**
   * Writes one chunk (wsgiref's write): headers go out with the first
   * non-empty chunk (PEP 3333: headers wait for the first body bytes). Returns true when the caller must wait for
   * drain before writing more (backpressure: docs/conformance.md D10).
   */
  protected sendChunk (data: unknown): boolean {
    if (this.status === null) throw new FST_WSGI_WRITE_BEFORE_START()
    let chunk = checkBodyChunk(data)
    if (chunk.length === 0 || this.bodyComplete) return false
    if (this.clientGone()) throw new ClientDisconnected()
    if (!this.headersSent) this.sendHeaders()
    if (this.discardBody) {
      // Headers are out and no body may follow: stop iterating (the app's body is still closed).
      this.bodyComplete = true
      return false
    }
    if (this.declaredLength !== -1) chunk = this.fitDeclaredLength(chunk)
    return !this.writeBody(chunk)
  }

  /** Never sends past a declared Content-Length (PEP 3333 "Handling the Content-Length Header"): the surplus is dropped and logged. */
  private fitDeclaredLength (chunk: Chunk): Chunk {
    const length = byteLength(chunk)
    const room = this.declaredLength - this.bytesSent
    if (length <= room) {
      this.bytesSent += length
      return chunk
    }
    this.bytesSent = this.declaredLength
    this.bodyComplete = true
    this.keepConnection = false
    this.logException(
      new FST_WSGI_CONTENT_LENGTH_MISMATCH(this.declaredLength, 'the body is longer: the surplus was not sent'),
      'The app sent more bytes than its Content-Length')
    return (typeof chunk === 'string' ? Buffer.from(chunk) : chunk).subarray(0, room)
  }

  /** Sends headers if nothing was written yet, then ends the response (wsgiref's finish_content). */
  protected finishContent (): void {
    if (this.clientGone()) throw new ClientDisconnected()
    if (!this.headersSent) {
      if (this.status === null) throw new FST_WSGI_NO_START_RESPONSE()
      if (this.declaredLength === -1) this.computedLength = 0
      // Nothing was sent yet: a 500 beats headers that promise bytes that never come (the
      // connection would stay open and the next response be read as this body).
      else if (this.declaredLength > 0 && !this.discardBody) throw new FST_WSGI_CONTENT_LENGTH_MISMATCH(this.declaredLength, 'the body was empty')
      this.sendHeaders()
    } else if (this.declaredLength > this.bytesSent && !this.discardBody) {
      // A short body must not look complete: the client sees the connection end early.
      throw new FST_WSGI_CONTENT_LENGTH_MISMATCH(this.declaredLength, `the body ended after ${this.bytesSent} bytes`)
    }
    this.endResponse()
  }

  /** Sends the status line and headers with the preamble: Date, Server, Content-Length (wsgiref's send_preamble and finish_content). */
  protected sendHeaders (): void {
    const statusCode = this.statusCode
    // startResponse accepts a 1xx status, as wsgiref does, but no final response may follow one:
    // sent as the response, it would leave the client waiting. It becomes an error while nothing is out.
    if (statusCode < 200) throw new FST_WSGI_INVALID_STATUS(JSON.stringify(this.status), 'a 1xx status is informational, not a final response (103 Early Hints: fastify.earlyHints)')
    this.headersSent = true
    const appHeaders = this.headers as ResponseHeader[]
    const serverSoftware = this.serverSoftware
    const addDate = this.originServer && this.addDate && !this.hasDate
    const addServer = this.originServer && serverSoftware !== false && !this.hasServer
    // 204 may not carry Content-Length, and a 304's describes the resource, not this empty body.
    const addLength = this.computedLength !== -1 && (this.headRequest || (!this.discardBody && this.addLength))
    // The flat list for the transport, allocated at its final size.
    const headers = new Array<string>(2 * appHeaders.length + (addDate ? 2 : 0) + (addServer ? 2 : 0) + (addLength ? 2 : 0))
    let end = 0
    // wsgiref's send_preamble order: Date and Server, then the app's headers, then Content-Length.
    if (addDate) {
      headers[end++] = 'Date'
      headers[end++] = httpDate()
    }
    if (addServer) {
      headers[end++] = 'Server'
      headers[end++] = serverSoftware
    }
    for (let i = 0; i < appHeaders.length; i++) {
      headers[end++] = appHeaders[i][0]
      headers[end++] = appHeaders[i][1]
    }
    if (addLength) {
      headers[end++] = 'Content-Length'
      headers[end++] = String(this.computedLength)
    }
    this.writeHead(statusCode, reasonPhrase(this.status as string), headers)
  }

  private async drain (): Promise<void> {
    await this.waitForDrain()
    if (this.clientGone()) throw new ClientDisconnected()
  }

  /** Calls the body's close() exactly once (PEP 3333; wsgiref's close). */
  protected closeResult (): void {
    const result = this.result
    this.result = null
    if (typeof result?.close === 'function') result.close()
  }

  private closeAfterError (): void {
    try {
      this.closeResult()
    } catch (closeErr) {
      this.logException(closeErr, 'The app body\'s close() failed while handling an error')
    }
  }

  /** What to do with an error of the app or the transport (wsgiref's handle_error; docs/conformance.md A2-A4). */
  protected handleError (thrown: unknown): void {
    const err = thrown instanceof Error ? thrown : new FST_WSGI_APP_THREW_NON_ERROR(describeValue(thrown))
    if (err instanceof ClientDisconnected || (this.clientGone() && isDisconnect(err))) {
      this.logDisconnect(err)
      this.abortResponse()
      return
    }
    if (this.headersSent) {
      this.logException(err, 'The WSGI app failed after the response started: the connection was closed')
      this.abortResponse()
      return
    }
    try {
      this.errorOutput(err)
    } catch (outputErr) {
      // The error response failed too: give up on this connection only; the server serves on.
      this.logException(outputErr, 'Sending the error response failed')
      this.abortResponse()
    }
  }

  /**
   * Sends the error response when no header was sent yet (wsgiref's
   * error_output): a fixed 500 that reveals nothing of the error.
   */
  protected errorOutput (err: Error): void {
    this.logException(err, 'The WSGI app failed')
    this.status = null
    this.handleStartResponse(this.errorStatus, this.errorHeaders.slice())
    this.computedLength = Buffer.byteLength(this.errorBody)
    this.sendHeaders()
    this.endResponse(this.discardBody ? undefined : this.errorBody)
  }
}

BaseHandler.prototype.originServer = true
BaseHandler.prototype.serverSoftware = false
BaseHandler.prototype.addDate = true
BaseHandler.prototype.addLength = true
BaseHandler.prototype.errorStatus = '500 Internal Server Error'
BaseHandler.prototype.errorHeaders = ERROR_HEADERS
BaseHandler.prototype.errorBody = 'A server error occurred.  Please contact the administrator.'
