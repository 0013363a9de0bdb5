import type { FastifyRequest } from 'fastify'
import type { ConnectionFacts } from '../connection/protocol.js'

/** The client as the environ gives it: REMOTE_ADDR and wsgi.url_scheme. */
export interface Client {
  address: string
  scheme: 'http' | 'https'
}

/** One result for every clientOf call: buildEnviron reads it at once. */
const client: Client = { address: '', scheme: 'http' }

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
