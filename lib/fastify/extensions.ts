import type { FastifyReply } from 'fastify'
import type { Http2ServerResponse } from 'node:http2'
import type { ResponseHeader } from '../../types/protocol.js'
import { checkResponseHeaders } from '../wsgi/response-checks.js'
import { FST_WSGI_EARLY_HINTS } from '../errors.js'

/** True once the response's connection (HTTP/1) or stream (HTTP/2) is gone. */
export function responseGone (res: FastifyReply['raw']): boolean {
  // An HTTP/2 compatibility response has no `destroyed`: its stream has.
  return (res as { destroyed?: boolean }).destroyed ?? (res as unknown as Http2ServerResponse).stream.destroyed
}

/**
 * `fastify.signal`: an AbortSignal aborted when the client goes away before
 * the response is complete, so async apps can stop work.
 */
export function clientSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const res = reply.raw
  const abortIfUnfinished = (): void => {
    if (!res.writableFinished) controller.abort(new Error('The client went away before the response was complete'))
  }
  if (responseGone(res)) abortIfUnfinished()
  else res.once('close', abortIfUnfinished)
  return controller.signal
}

/**
 * `environ['fastify.earlyHints'](headers)`: one function shared by every
 * environ, so no request pays for a closure; it reaches the reply through the
 * environ it is called on.
 */
export function earlyHints (this: { 'fastify.reply'?: FastifyReply } | undefined, headers: ResponseHeader[]): void {
  const reply = this?.['fastify.reply']
  if (reply === undefined) throw new FST_WSGI_EARLY_HINTS("call it on the environ, as environ['fastify.earlyHints'](headers)")
  sendEarlyHints(reply, headers)
}

/**
 * `fastify.earlyHints(headers)`: sends `103 Early Hints` (RFC 8297) with the
 * given `[name, value]` pairs, validated as startResponse validates its
 * headers, before the response starts. Node sends 103 only with a Link
 * header; HTTP/1.0 clients get none (RFC 9110 §15.2 forbids 1xx for them).
 */
function sendEarlyHints (reply: FastifyReply, headers: ResponseHeader[]): void {
  checkResponseHeaders(headers)
  const res = reply.raw
  if (res.headersSent) throw new FST_WSGI_EARLY_HINTS('the response has already started')
  const hints: Record<string, string[]> = {}
  for (const [name, value] of headers) (hints[name.toLowerCase()] ??= []).push(value)
  if (hints.link === undefined) throw new FST_WSGI_EARLY_HINTS('a Link header is required')
  if (reply.request.raw.httpVersion === '1.0') return
  res.writeEarlyHints(hints)
}
