import type { FastifyRequest } from 'fastify'
import type { Http2ServerRequest, Http2Session } from 'node:http2'

/** What the environ reads of a request's connection; a net.Socket or a TLSSocket has all of it. */
export interface ConnectionFacts {
  remoteAddress?: string
  remotePort?: number
  /** true on TLS; a plain net.Socket has no such property. */
  encrypted?: boolean
  localAddress?: string
  localPort?: number
}

/** The client as the environ gives it: REMOTE_ADDR and wsgi.url_scheme. */
export interface Client {
  address: string
  scheme: 'http' | 'https'
}

/** The connection facts of each HTTP/2 session, read once: a session's peer does not change. */
const sessionFacts = new WeakMap<Http2Session, ConnectionFacts>()

/** One result for every clientOf call: buildEnviron reads it at once. */
const client: Client = { address: '', scheme: 'http' }

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

/**
 * The client's address and the scheme, as Fastify's `request.ip` and
 * `request.protocol` give them: read from the connection, unless the request
 * has an X-Forwarded-For or X-Forwarded-Proto header (then Fastify's getters
 * decide, as the server's trustProxy says). The result is only valid until the next call.
 */
export function clientOf (request: FastifyRequest, connection: ConnectionFacts): Readonly<Client> {
  const headers = request.raw.headers
  client.address = (headers['x-forwarded-for'] === undefined ? connection.remoteAddress : request.ip) ?? ''
  client.scheme = headers['x-forwarded-proto'] === undefined ? (connection.encrypted === true ? 'https' : 'http') : request.protocol
  return client
}
