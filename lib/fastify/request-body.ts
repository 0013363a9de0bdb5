import type { FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import type { AnyWsgiInput } from '../../types/protocol.js'
import { BufferedInput, UnavailableInput, readBody } from '../wsgi/input.js'
import { StreamInput } from '../wsgi/stream-input.js'
import { FST_WSGI_BODY_TOO_LARGE } from '../errors.js'
import { isHttp2 } from '../connection/protocol.js'

// wsgi.input from a Fastify request, in the mode the settings ask for.

const EMPTY_BODY = Buffer.alloc(0)
/** Shared by every request without a body: reading nothing leaves no state to keep apart. */
export const EMPTY_INPUT = new BufferedInput(EMPTY_BODY)

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
  const declared = headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0') ||
    (isHttp2(raw) && !raw.stream.endAfterHeaders)
  if (!declared) return EMPTY_BODY
  if (body === undefined && !raw.readableEnded) return raw
  return `the route's content-type parser already parsed the body (${headers['content-type']}), so its raw bytes are gone; ` +
    'mount the app with fastifyWsgi\'s "app" option, or give the route a parser that keeps the body as a Buffer'
}

/** A declared length over the limit is refused before the app runs (413), in both modes. */
export function refuseDeclaredLength (request: FastifyRequest, limit: number): void {
  if (Number(request.headers['content-length']) > limit) throw new FST_WSGI_BODY_TOO_LARGE(limit)
}

/**
 * Opens wsgi.input in the configured mode. Only a buffered body still on the
 * wire needs waiting for (it is read here, before the app runs): everything
 * else is synchronous.
 */
export function openInput (request: FastifyRequest, settings: { bodyLimit: number, input: 'buffer' | 'stream' }): AnyWsgiInput | Promise<AnyWsgiInput> {
  const limit = settings.bodyLimit
  const body = requestBody(request)
  if (typeof body === 'string') return new UnavailableInput(body)
  if (settings.input === 'stream') {
    return new StreamInput(Buffer.isBuffer(body) ? Readable.from([body], { objectMode: false }) : body, limit)
  }
  if (body === EMPTY_BODY) return EMPTY_INPUT
  if (Buffer.isBuffer(body)) return new BufferedInput(body)
  return readBody(body, limit).then((buffer) => new BufferedInput(buffer))
}
