import type { FastifyReply, FastifyRequest, LogController } from 'fastify'
import { checkFastifyVersion } from './fastify-version.js'
import { isHttp2 } from '../connection/protocol.js'

/** Bytes already written on each HTTP/1.x connection, to tell one response's share. */
const connectionBytes = new WeakMap<object, number>()

/**
 * Bytes of this response: on HTTP/1.x, what went out on the connection since
 * its previous response (status line, headers and body, as nginx's
 * $bytes_sent: responses on a connection are sequential); on HTTP/2, whose
 * streams share a connection, the Content-Length if there was one.
 */
function responseBytes (request: FastifyRequest, reply: FastifyReply): number | undefined {
  if (isHttp2(request.raw)) {
    const length = reply.raw.getHeader('content-length')
    return length === undefined ? undefined : Number(length)
  }
  const socket = request.raw.socket
  const before = connectionBytes.get(socket) ?? 0
  connectionBytes.set(socket, socket.bytesWritten)
  return socket.bytesWritten - before
}

type AccessLog = LogController
let AccessLogClass: (new () => AccessLog) | undefined

/**
 * The access log: Fastify's two lines per request ("incoming request", then
 * "request completed" with the status and time) become one, written when the
 * response is over, with the method, url, status, bytes and time; the request
 * id comes with request.log. Every other line of Fastify's stays, errors included.
 * The class is made on first use, so that importing this module never needs Fastify 5.10.
 */
export function createAccessLog (): AccessLog {
  AccessLogClass ??= class AccessLog extends checkFastifyVersion() {
    incomingRequest (): void {}

    requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
      const line = {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        bytes: responseBytes(request, reply),
        responseTime: reply.elapsedTime
      }
      if (error == null) request.log.info(line, 'request completed')
      else request.log.error({ ...line, err: error }, 'request errored')
    }
  }
  return new AccessLogClass()
}
