import type { FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { PassThrough } from 'node:stream'
import type { Chunk } from '../../types/protocol.js'
import { ClientDisconnected } from '../wsgi/handler.js'
import { drainOrClose } from '../wsgi/drain.js'
import { FST_WSGI_APP_FAILED } from '../errors.js'
import { groupRepeatedNames, holdsHeaders } from './response-headers.js'
import { replyHasNoSerializer, routeHasNoOnSendHooks, usesFastifyErrorPage } from './internals.js'
import { ReplyHandler } from './reply-handler.js'

function noop (): void {}

/**
 * The `onSendHooks` transport: the response goes through reply.send, so
 * Fastify's onSend hooks (compression, ETag) see it. Status and headers are
 * staged on the reply; a body written in one step is sent as one Buffer, any
 * other body as a stream whose writes wait for drain. Fastify then owns the
 * wire: it adds its own framing and, for a stream that fails before its first
 * byte went out, sends the error response.
 */
export class SendReplyHandler extends ReplyHandler {
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

  /** The body stream drains, or it or the response closes. */
  protected waitForDrain (): Promise<void> {
    return drainOrClose(this.body as PassThrough, this.res)
  }

  protected end (chunk?: Chunk): void {
    const body = this.body
    if (body !== null) body.end(chunk)
    else this.reply.send(chunk === undefined ? undefined : oneChunkPayload(this.request, this.reply, chunk))
    this.closeIfMisframed()
  }

  protected abortResponse (): void {
    const body = this.body
    // Nothing reached Fastify yet, or only a reset shows the cut: end the connection as the reply.raw transport does.
    if (body === null || (this.http1 && this.closeDelimited())) return this.cutConnection()
    this.errors.flush()
    // Fastify destroys the response, so the client sees it incomplete (or gets the error response if no byte went out).
    body.destroy(new Error('The WSGI response was aborted after it started'))
  }
}

// reply.send frames the body: Fastify works out its Content-Length, after the onSend hooks that may change it.
SendReplyHandler.prototype.addLength = false

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
