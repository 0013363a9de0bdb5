/**
 * The WSGI protocol (PEP 3333) transposed to JavaScript: what an application
 * receives and what it may return. These types are the public contract.
 */

import type { FastifyReply, FastifyRequest } from 'fastify'

/** One piece of a response body: bytes, or text that is sent as UTF-8. */
export type Chunk = Uint8Array | string

/**
 * What an application returns: any iterable or async iterable of chunks
 * (arrays, generators, async generators, Node Readable streams). If it has a
 * `close()` method, the server calls it exactly once when the response ends.
 */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & { close?: () => void }

/** A response header as the app gives it: `[name, value]`. */
export type ResponseHeader = [name: string, value: string]

/** The legacy `write(chunk)` callable returned by `startResponse` (PEP 3333 "The write() Callable"). */
export type WriteCallable = (chunk: Chunk) => void

/**
 * `startResponse(status, headers, excInfo?)`: sets the status (`'200 OK'`)
 * and headers. `excInfo` is the caught error, JavaScript's stand-in for
 * Python's `sys.exc_info()`: with it, a second call replaces the status and
 * headers if nothing was sent yet, and re-throws it otherwise.
 */
export type StartResponse = (status: string, headers: ResponseHeader[], excInfo?: unknown) => WriteCallable

/** `wsgi.input` in `input: 'buffer'` mode: the whole request body, read synchronously. */
export interface WsgiInput extends Iterable<Buffer> {
  /** Reads up to `size` bytes (all that is left when `size` is omitted or negative). */
  read (size?: number | null): Buffer
  /** Reads one line, including its `\n`, or at most `size` bytes of it. */
  readline (size?: number | null): Buffer
  /** Reads lines until their total size reaches `hint` (all lines when omitted or ≤ 0). */
  readlines (hint?: number | null): Buffer[]
}

/**
 * `wsgi.input` in `input: 'stream'` mode: the app runs as soon as the request
 * headers arrive and reads the body as it comes. The same methods as
 * {@link WsgiInput}, returning Promises; async-iterable by lines.
 */
export interface WsgiStreamInput extends AsyncIterable<Buffer> {
  read (size?: number | null): Promise<Buffer>
  readline (size?: number | null): Promise<Buffer>
  readlines (hint?: number | null): Promise<Buffer[]>
  /** The body as it arrives, chunk by chunk, without splitting it into lines. */
  chunks (): AsyncIterable<Buffer>
}

/** `wsgi.errors`: a text stream whose lines reach the request's logger. */
export interface WsgiErrors {
  write (text: string): void
  writelines (lines: Iterable<string>): void
  flush (): void
}

/** `wsgi.file_wrapper(filelike, blockSize?)`: wraps a file-like object as a response body. */
export type FileWrapperFactory = (filelike: unknown, blockSize?: number) => Body

/**
 * The per-request environ: PEP 3333's "environ Variables", plus the `fastify.*` extension keys.
 * `Input` is the `wsgi.input` the app gets: {@link WsgiInput} in the default
 * `input: 'buffer'` mode, {@link WsgiStreamInput} with `input: 'stream'`.
 *
 * Besides the keys below, `HTTP_*` request headers are `string | undefined`, and any key with a dot
 * (`'myapp.user'`, PEP 3333's naming for extensions and middleware) is `unknown`. Other names do
 * not compile, so a misspelt CGI name (`environ.PATHINFO`) is caught; give middleware keys a dot,
 * or extend the interface.
 */
export interface Environ<Input extends WsgiInput | WsgiStreamInput = WsgiInput> {
  REQUEST_METHOD: string
  SCRIPT_NAME: string
  PATH_INFO: string
  QUERY_STRING: string
  CONTENT_TYPE?: string
  CONTENT_LENGTH?: string
  SERVER_NAME: string
  SERVER_PORT: string
  SERVER_PROTOCOL: string
  SERVER_SOFTWARE: string
  GATEWAY_INTERFACE: 'CGI/1.1'
  REMOTE_ADDR: string
  REMOTE_PORT: string
  REQUEST_URI: string
  /** CGI keys a server or gateway in front may set (`HTTPS` is what `guessScheme` reads). */
  HTTPS?: string
  REMOTE_USER?: string
  REMOTE_HOST?: string
  AUTH_TYPE?: string
  /** A request header: `HTTP_` and its name in capitals with `-` as `_` (`HTTP_USER_AGENT`). */
  [header: `HTTP_${string}`]: string | undefined
  'wsgi.version': readonly [1, 0]
  'wsgi.url_scheme': 'http' | 'https'
  'wsgi.input': Input
  'wsgi.errors': WsgiErrors
  'wsgi.multithread': boolean
  'wsgi.multiprocess': boolean
  'wsgi.run_once': boolean
  'wsgi.input_terminated': boolean
  'wsgi.file_wrapper': FileWrapperFactory
  /** The Fastify request (fastify-wsgi's environ extension; absent in SimpleHandler and CGIHandler environs). */
  'fastify.request': FastifyRequest
  /** The Fastify reply (fastify-wsgi's environ extension; absent in SimpleHandler and CGIHandler environs). */
  'fastify.reply': FastifyReply
  /** Aborted when the client goes away before the response is complete; present only with the `signal: true` option. */
  'fastify.signal'?: AbortSignal
  /**
   * Sends `103 Early Hints` with these headers (a Link among them) before the response starts.
   * Call it on the environ, `environ['fastify.earlyHints'](headers)`: one function serves every environ.
   */
  'fastify.earlyHints': (this: { 'fastify.reply'?: FastifyReply }, headers: ResponseHeader[]) => void
  /** Extension keys: `baseEnviron` keys with a dot, middleware keys, server extensions. */
  [extension: `${string}.${string}`]: unknown
}

/** A WSGI-style application; `WsgiApp<WsgiStreamInput>` for `input: 'stream'`. */
export type WsgiApp<Input extends WsgiInput | WsgiStreamInput = WsgiInput> =
  (environ: Environ<Input>, startResponse: StartResponse) => Body | Promise<Body>

/** Either kind of `wsgi.input`: what a transport-agnostic handler deals with. */
export type AnyWsgiInput = WsgiInput | WsgiStreamInput

/** An app that reads its body as a stream (`input: 'stream'`). */
export type StreamingWsgiApp = WsgiApp<WsgiStreamInput>
