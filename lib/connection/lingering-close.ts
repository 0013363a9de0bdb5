import type { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import { markClosing } from './order.js'
import { isHttp2 } from './protocol.js'

/** How long and how much a lingering close reads before it closes (plugin options). */
export interface LingeringSettings {
  /** Milliseconds the connection keeps reading after the answer; 0 closes at once. */
  lingeringTime: number
  /** Bytes it reads at most; 0 closes at once. */
  lingeringLimit: number
}

/**
 * After an answer, this much of a request body still on the wire is read to
 * keep the connection alive; a larger or unknown rest closes it (as gunicorn).
 */
export const DRAIN_LIMIT = 64 * 1024

/** The defaults of the plugin's lingeringTime and lingeringLimit options. */
export const DEFAULT_LINGERING: Readonly<LingeringSettings> = { lingeringTime: 2000, lingeringLimit: 16 * 1024 * 1024 }

const closeAtOnce = Socket.prototype.destroySoon

/**
 * An answer is about to go out while the body of its HTTP/1 request is still
 * arriving (a 413, an app that answers without reading or fails first): true
 * when the connection must close after it, because more than a small rest of
 * the body (DRAIN_LIMIT) is left, or an unknown rest. `received` is what was
 * read of the body so far. Whenever the connection closes after such an
 * answer, for this reason or another (`Connection: close`, HTTP/1.0), the
 * close lingers; when it closes for this reason, no later request received
 * on it runs.
 */
export function closesBeforeBodyEnd (req: IncomingMessage, received: number, settings: LingeringSettings): boolean {
  if (req.complete || isHttp2(req)) return false
  const declared = req.headers['content-length']
  // Without a body (GET...) nothing is left on the wire; a request runs before Node marks it complete.
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return false
  lingerOnClose(req.socket, settings)
  if (Number(declared) - received <= DRAIN_LIMIT) return false
  markClosing(req.socket)
  return true
}

/**
 * Makes the connection close as nginx's lingering_close does. Closing a
 * socket with unread input sends a reset, and the reset discards the answer
 * before the client read it (RFC 9112 §9.6): the client, still sending, gets
 * EPIPE instead of its 413. So the answer goes out with a half-close (FIN),
 * the input is read and discarded until the client closes its side too, or
 * for `lingeringTime` ms, or `lingeringLimit` bytes, whichever comes first;
 * then the connection closes. Node's HTTP server closes a connection after
 * its last response with `socket.destroySoon()`: that call lingers instead.
 */
function lingerOnClose (socket: Socket, settings: LingeringSettings): void {
  if (socket.destroySoon !== closeAtOnce || settings.lingeringTime === 0 || settings.lingeringLimit === 0) return
  socket.destroySoon = linger.bind(socket, settings)
}

/** Closes the connection now, lingering as the defaults say; a close already under way goes on. */
export function lingeringClose (socket: Socket): void {
  if (socket.destroySoon === closeAtOnce) linger.call(socket, DEFAULT_LINGERING)
  else socket.destroySoon()
}

function linger (this: Socket, settings: LingeringSettings): void {
  const socket = this
  socket.destroySoon = lingering
  // The client is done sending: no input is left to reset the connection.
  if (socket.readableEnded) {
    closeAtOnce.call(socket)
    return
  }
  socket.end()
  // What follows the answer is discarded unparsed: no later request on this connection may run
  // (RFC 9112 §9.6). Node's parser reads through its 'data' listener (or from the socket's handle
  // until another 'data' listener comes): removed, it parses nothing more.
  socket.removeAllListeners('data')
  let left = settings.lingeringLimit
  const close = (): void => { socket.destroy() }
  const timer = setTimeout(close, settings.lingeringTime)
  socket.on('data', (chunk: Buffer) => {
    left -= chunk.length
    if (left <= 0) socket.destroy()
  })
  socket.once('end', close)
  socket.once('close', () => { clearTimeout(timer) })
  readAgain(socket)
  socket.resume()
}

/**
 * Node's parser read the socket's handle directly, so the socket's own stream
 * state still says a read is under way, and its handle may be stopped (an
 * unread body filled the request's buffer): nothing would restart it. Reading
 * restarts here as Node's own 'resume' handler for a parsed socket restarts it.
 */
function readAgain (socket: Socket): void {
  const handle = (socket as Socket & { _handle: { reading: boolean, readStart: () => number } | null })._handle
  if (handle !== null && !handle.reading) {
    handle.reading = true
    handle.readStart()
  }
}

/** Further calls while the connection lingers (a server closing, an aborted response): it closes on its own. */
function lingering (): void {}
