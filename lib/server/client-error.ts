import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { lingeringClose } from '../connection/lingering-close.js'

/** The error Node's HTTP server gives a `'clientError'` listener for a request its parser refused. */
interface ParseError extends Error {
  code?: string
  /** What the parser was reading when it stopped, and how far it got. */
  rawPacket?: unknown
  bytesParsed?: number
}

/** A request's first line starts with its method, a token, then a space (RFC 9112 §3). */
const METHOD_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /

/**
 * Whether the head outgrew Node's limit (`maxHeaderSize`, 16 KiB by default,
 * counted over the request line and the headers together) while still in its
 * request line: no line end between the request's start and where the parser
 * stopped. When the request began in an earlier read, that cannot be told,
 * and the whole head is taken as too large.
 */
function inRequestLine (err: ParseError): boolean {
  const packet = err.rawPacket
  if (!Buffer.isBuffer(packet) || typeof err.bytesParsed !== 'number') return false
  const read = packet.subarray(0, err.bytesParsed)
  // A request pipelined behind an earlier one in the same read starts after that one's head.
  const previousHead = read.lastIndexOf('\r\n\r\n')
  const request = read.subarray(previousHead === -1 ? 0 : previousHead + 4).toString('latin1')
  return METHOD_START.test(request) && !request.includes('\n')
}

function answerFor (err: ParseError): { status: number, message: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, message: 'Client Timeout' }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // wsgiref answers a request line over its limit with 414, as http.server does.
    return inRequestLine(err)
      ? { status: 414, message: 'The request line is longer than the server accepts' }
      : { status: 431, message: 'Exceeded maximum allowed HTTP header size' }
  }
  return { status: 400, message: 'Client Error' }
}

/**
 * Fastify's `clientErrorHandler` for a request Node's parser refused before
 * any route ran. It answers as Fastify's default does (a JSON body), with two
 * differences: a request line over the size limit gets 414 Request-URI Too
 * Long (a header section over it 431), and the answer is followed by a
 * lingering close, not a reset. Closing a socket with unread input resets the
 * connection, and a client still sending (a long request line is still
 * arriving) then loses the answer. `makeServer` and the CLI use it; pass it to
 * `Fastify({ clientErrorHandler: wsgiClientErrorHandler })` for the same answers.
 */
export function wsgiClientErrorHandler (this: FastifyInstance | undefined, err: ParseError, socket: Socket): void {
  // A reset connection has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { status, message } = answerFor(err)
  this?.log?.trace({ err }, `client error: ${status}`)
  afterResponsesInFlight(socket, () => answer(socket, status, message))
}

function answer (socket: Socket, status: number, message: string): void {
  // Closed meanwhile (a response it waited for closed the connection): nothing to answer.
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const reason = STATUS_CODES[status] as string
  const body = JSON.stringify({ error: reason, message, statusCode: status })
  socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`)
  // A client too slow to send its request in time gets no more time to send the rest.
  if (status === 408) socket.destroySoon()
  else lingeringClose(socket)
}

/**
 * Runs `answer` once the responses to requests received whole before the
 * refused one (pipelined in the same read) have gone out, so it follows them
 * in order. Node keeps the response being written as the socket's
 * `_httpMessage`, and hands the connection to the next queued one as each
 * finishes. A request still arriving (timed out, or refused within its body)
 * has no complete response to wait for: it is answered now, or, when its
 * response already started, its connection is cut.
 */
function afterResponsesInFlight (socket: Socket, answer: () => void): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  if (inFlight === null || inFlight === undefined || inFlight.writableFinished) answer()
  else if (inFlight.req.complete) inFlight.once('finish', () => afterResponsesInFlight(socket, answer))
  else if (inFlight.headersSent) socket.destroy()
  else answer()
}
