import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Chunk, WsgiApp, WsgiInput } from '../types/protocol.js'
import { BaseHandler } from './handler.js'
import { buildEnviron, type EnvironSettings, type Mount } from './environ.js'
import { BufferedInput, UnavailableInput, readBody } from './input.js'
import { ErrorStream } from './error-stream.js'

/** Per-mount (or per reply.wsgi call) settings, resolved from the plugin options. */
export interface HandlerSettings extends EnvironSettings, Mount {
  serverSoftwareHeader: string | false
  bodyLimit: number
}

const EMPTY_INPUT_BODY = Buffer.alloc(0)

function isReadable (value: unknown): value is Readable {
  return typeof (value as Readable | null)?.on === 'function' && typeof (value as Readable).resume === 'function'
}

function declaresBody (request: FastifyRequest): boolean {
  const headers = request.raw.headers
  return headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
}

/**
 * The request body for `input: 'buffer'`. Mounted routes hand the body stream
 * through untouched (a pass-through content-type parser); a reply.wsgi route
 * may have parsed it already, and then its raw bytes are gone.
 */
async function bufferedInput (request: FastifyRequest, bodyLimit: number): Promise<WsgiInput> {
  const body: unknown = request.body
  if (isReadable(body)) return new BufferedInput(await readBody(body, bodyLimit, Number(request.headers['content-length'] ?? -1)))
  if (Buffer.isBuffer(body)) return new BufferedInput(body)
  if (typeof body === 'string') return new BufferedInput(Buffer.from(body))
  if (body === undefined || body === null) {
    // Bodyless methods (GET...) skip Fastify's parsers: the body, if any, is still on the wire.
    if (!declaresBody(request) || request.raw.readableEnded) return new BufferedInput(EMPTY_INPUT_BODY)
    return new BufferedInput(await readBody(request.raw, bodyLimit, Number(request.headers['content-length'] ?? -1)))
  }
  return new UnavailableInput(`the route's content-type parser already parsed the body (${request.headers['content-type']}); mount the app with fastifyWsgi's "app" option to receive the raw body`)
}

/** Drives BaseHandler over a Fastify reply: the only place that writes `reply.raw`. */
export class FastifyHandler extends BaseHandler {
  private readonly request: FastifyRequest
  private readonly reply: FastifyReply
  private readonly res: ServerResponse
  private readonly errors: ErrorStream

  constructor (request: FastifyRequest, reply: FastifyReply, settings: HandlerSettings, input: WsgiInput) {
    const errors = new ErrorStream(request.log)
    super(buildEnviron(request, reply, settings, settings, input, errors))
    this.request = request
    this.reply = reply
    this.res = reply.raw as ServerResponse
    this.errors = errors
    this.serverSoftware = settings.serverSoftwareHeader
  }

  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    this.reply.hijack()
    this.addHookHeaders(headers)
    this.res.writeHead(statusCode, reason, headers)
  }

  /**
   * Headers that hooks and plugins set with reply.header() live in Fastify's
   * buffer and would be lost after hijack(): send them too. The app's value
   * wins a clash, except Set-Cookie, where both are kept. Headers set on
   * reply.raw directly are merged by Node itself.
   */
  private addHookHeaders (headers: string[]): void {
    const hookHeaders = this.reply.getHeaders()
    let appNames: Set<string> | null = null
    for (const name in hookHeaders) {
      const value = hookHeaders[name]
      if (value === undefined) continue
      appNames ??= new Set(headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()))
      if (appNames.has(name) && name !== 'set-cookie') continue
      if (Array.isArray(value)) {
        for (const item of value) headers.push(name, item)
      } else {
        headers.push(name, String(value))
      }
    }
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
    if (chunk === undefined) this.res.end()
    else this.res.end(chunk)
  }

  protected abortResponse (): void {
    this.errors.flush()
    if (!this.reply.sent) this.reply.hijack()
    this.res.destroy()
  }

  protected clientGone (): boolean {
    return this.res.destroyed
  }

  protected logException (err: unknown, message: string): void {
    this.request.log.error({ err }, message)
  }

  protected logDisconnect (err: unknown): void {
    this.request.log.debug({ err }, 'The client went away before the WSGI response was complete')
  }

  /** Before any header was sent, the error goes to Fastify's error handler (setErrorHandler applies). */
  protected errorOutput (err: Error): void {
    this.errors.flush()
    this.reply.send(err)
  }
}

/** Reads the body if needed, builds the environ and runs the app: the whole per-request path. */
export async function runWsgi (request: FastifyRequest, reply: FastifyReply, app: WsgiApp, settings: HandlerSettings): Promise<void> {
  let input: WsgiInput
  try {
    input = await bufferedInput(request, settings.bodyLimit)
  } catch (err) {
    if (reply.raw.destroyed) {
      // The client left mid-upload: expected, so nothing is logged as a server error.
      request.log.debug({ err }, 'The client went away while sending the request body')
      reply.hijack()
      return
    }
    // 413 or a refused upload: the app never runs; Fastify's error handler answers.
    reply.send(err)
    return
  }
  let handler: FastifyHandler
  try {
    handler = new FastifyHandler(request, reply, settings, input)
  } catch (err) {
    reply.send(err)
    return
  }
  await handler.run(app)
}
