// The named import, not the default one: the declarations tsc emits then name these constructors'
// type as import('@fastify/error').FastifyErrorConstructor, which every moduleResolution finds.
// Through the default import they would say createError.FastifyErrorConstructor, a namespace that
// only nodenext sees (elsewhere the default is @fastify/error's `default` value: TS2503).
import { createError } from '@fastify/error'

// Every refusal of fastify-wsgi, in one place. Messages name the offending value (%s).

// Registration-time option errors.
export const FST_WSGI_INVALID_OPTION = createError<[string, string]>(
  'FST_WSGI_INVALID_OPTION', 'Invalid fastify-wsgi option "%s": %s', 500, TypeError)
export const FST_WSGI_ALREADY_DECORATED = createError(
  'FST_WSGI_ALREADY_DECORATED',
  'fastify-wsgi was already registered without "app" in this scope, which set reply.wsgi\'s defaults here; register it once per scope (or in a child scope for other defaults), or pass per-call options to reply.wsgi(app, options)',
  500)
export const FST_WSGI_FASTIFY_VERSION = createError<[string]>(
  'FST_WSGI_FASTIFY_VERSION', 'makeServer and the fastify-wsgi command need Fastify 5.10 or later (found %s)', 500)

// The app broke the protocol: startResponse, write and the body (PEP 3333 "The start_response() Callable").
export const FST_WSGI_INVALID_STATUS = createError<[string, string]>(
  'FST_WSGI_INVALID_STATUS', 'Invalid status %s: %s', 500)
export const FST_WSGI_INVALID_HEADER = createError<[string]>(
  'FST_WSGI_INVALID_HEADER', 'Invalid header %s', 500)
export const FST_WSGI_HOP_BY_HOP_HEADER = createError<[string]>(
  'FST_WSGI_HOP_BY_HOP_HEADER', 'Hop-by-hop header "%s" not allowed', 500)
export const FST_WSGI_HEADERS_ALREADY_SET = createError(
  'FST_WSGI_HEADERS_ALREADY_SET', 'Headers already set! startResponse() was called a second time without excInfo', 500)
export const FST_WSGI_WRITE_BEFORE_START = createError(
  'FST_WSGI_WRITE_BEFORE_START', 'write() before start_response(): the app sent body data before calling startResponse()', 500)
export const FST_WSGI_NO_START_RESPONSE = createError(
  'FST_WSGI_NO_START_RESPONSE', 'The app finished without calling startResponse()', 500)
export const FST_WSGI_INVALID_CHUNK = createError<[string]>(
  'FST_WSGI_INVALID_CHUNK', 'Body chunks must be Uint8Array or string, got %s', 500, TypeError)
export const FST_WSGI_INVALID_BODY = createError<[string]>(
  'FST_WSGI_INVALID_BODY', 'The app must return an iterable or async iterable of chunks, got %s', 500, TypeError)
export const FST_WSGI_APP_THREW_NON_ERROR = createError<[string]>(
  'FST_WSGI_APP_THREW_NON_ERROR', 'The app threw a non-Error value: %s', 500)
/** What Fastify's own error handler is given instead of the app's error, whose text stays private (the app's error is its cause). */
export const FST_WSGI_APP_FAILED = createError(
  'FST_WSGI_APP_FAILED', 'The WSGI app failed', 500)

// The request cannot be handed to the app.
export const FST_WSGI_BAD_REQUEST = createError<[string]>(
  'FST_WSGI_BAD_REQUEST', 'Bad request: %s', 400)
export const FST_WSGI_BODY_TOO_LARGE = createError<[number]>(
  'FST_WSGI_BODY_TOO_LARGE', 'Request body is larger than bodyLimit (%s bytes)', 413)
export const FST_WSGI_BODY_UNAVAILABLE = createError<[string]>(
  'FST_WSGI_BODY_UNAVAILABLE', 'wsgi.input cannot be read: %s', 500)
export const FST_WSGI_CONTENT_LENGTH_MISMATCH = createError<[number, string]>(
  'FST_WSGI_CONTENT_LENGTH_MISMATCH', 'The app declared Content-Length %s but %s', 500)
export const FST_WSGI_EARLY_HINTS = createError<[string]>(
  'FST_WSGI_EARLY_HINTS', 'fastify.earlyHints() cannot send 103 Early Hints: %s', 500)

// wsgiref.validate: a rule of PEP 3333 broken by the app or by the server (lib/wsgi/validate.ts).
export const WsgiValidationError = createError<[string]>(
  'FST_WSGI_VALIDATION', 'WSGI validation: %s', 500)
