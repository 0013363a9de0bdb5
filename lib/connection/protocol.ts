import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest, Http2Session } from 'node:http2'

/**
 * Whether a request arrived on an HTTP/2 stream. An HTTP/1 request line may
 * claim version 2.0 too: it has no stream, and counts as HTTP/1 (the environ
 * refuses its version). HTTP/2 streams are independent of each other; only an
 * HTTP/1 connection orders its requests and is ours to keep or close.
 */
export function isHttp2 (req: IncomingMessage | Http2ServerRequest): req is Http2ServerRequest {
  return req.httpVersionMajor === 2 && (req as { stream?: unknown }).stream !== undefined
}

/** What the environ reads of a request's connection; a net.Socket or a TLSSocket has all of it. */
export interface ConnectionFacts {
  remoteAddress?: string
  remotePort?: number
  /** true on TLS; a plain net.Socket has no such property. */
  encrypted?: boolean
  localAddress?: string
  localPort?: number
}

/** The connection facts of each HTTP/2 session, read once: a session's peer does not change. */
const sessionFacts = new WeakMap<Http2Session, ConnectionFacts>()

/**
 * The connection of an HTTP/2 request. Node's compatibility layer gives each
 * stream's `req.socket` a Proxy of its own, and every read through it is a
 * trap (about 130 ns; REMOTE_ADDR, REMOTE_PORT and wsgi.url_scheme took three),
 * so the session's socket is read once and its facts kept. A stream already
 * closed has no session left: its proxy still answers.
 */
export function http2Connection (raw: Http2ServerRequest): ConnectionFacts {
  const session = raw.stream.session
  if (session === undefined) return raw.socket
  let facts = sessionFacts.get(session)
  if (facts === undefined) {
    const { remoteAddress, remotePort, encrypted, localAddress, localPort } = raw.socket as ConnectionFacts
    facts = { remoteAddress, remotePort, encrypted, localAddress, localPort }
    sessionFacts.set(session, facts)
  }
  return facts
}
