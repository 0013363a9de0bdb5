import { STATUS_CODES } from 'node:http'
import type { Chunk } from '../../types/protocol.js'
import { ClientDisconnected } from '../wsgi/handler.js'
import type { FileWrapper } from '../wsgi/file-wrapper.js'
import { drainOrClose } from '../wsgi/drain.js'
import { addHookHeaders, groupRepeatedNames, headerObject, hookHeaders } from './response-headers.js'
import { ReplyHandler } from './reply-handler.js'

/**
 * The default transport: the response is written on `reply.raw` (Node's
 * ServerResponse or its HTTP/2 compatibility twin), after reply.hijack(), so
 * Fastify's onSend hooks do not run. Headers that hooks set before the app
 * ran still go out with the app's. Files go by Node's stream fast path.
 */
export class RawReplyHandler extends ReplyHandler {
  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    this.reply.hijack()
    const hooked = hookHeaders(this.reply)
    const withHookHeaders = hooked !== null && addHookHeaders(headers, hooked)
    if (!this.http1) {
      // HTTP/2 has no reason phrase (RFC 9113 §8.3.2) and no connection to close; its compatibility
      // layer takes an object at half the cost of a list (for a list it first removes every name).
      this.res.writeHead(statusCode, headerObject(headers))
      return
    }
    // Only a response that already holds headers needs repeated names grouped: keep the Set off the common path.
    const list = withHookHeaders ? groupRepeatedNames(headers) : headers
    if (this.mustCloseConnection()) list.push('Connection', 'close')
    // Node's own phrase for the code is the usual one: left to Node, it is not checked again. (Unless
    // a plugin set reply.raw.statusMessage, which Node would keep: the app's phrase wins then.)
    if (reason === STATUS_CODES[statusCode] && this.res.statusMessage === undefined) this.res.writeHead(statusCode, list)
    else this.res.writeHead(statusCode, reason, list)
  }

  /** The file fast path (PEP 3333 "Optional Platform-Specific File Handling"): the file is piped into the response by Node's streams. */
  protected sendFile (wrapper: FileWrapper): boolean | Promise<boolean> {
    if (this.clientGone()) throw new ClientDisconnected()
    this.sendHeaders()
    // A HEAD or 204/304 response sends no body: iterating stops at once and closes the file.
    if (this.discardBody) return false
    const stream = wrapper.openStream(this.declaredLength)
    const res = this.res
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        res.off('close', onClose)
        stream.off('error', onError)
        stream.off('end', onEnd)
        stream.unpipe(res)
      }
      const onClose = (): void => { cleanup(); reject(new ClientDisconnected()) }
      const onError = (err: Error): void => { cleanup(); reject(err) }
      const onEnd = (): void => {
        cleanup()
        this.bytesSent = stream.bytesRead
        resolve(true)
      }
      res.on('close', onClose)
      stream.on('error', onError)
      stream.on('end', onEnd)
      stream.pipe(res, { end: false })
    })
  }

  protected writeBody (chunk: Chunk): boolean {
    return this.res.write(chunk)
  }

  protected waitForDrain (): Promise<void> {
    return drainOrClose(this.res)
  }

  protected end (chunk?: Chunk): void {
    // Before end(): the connection's fate goes with the headers, if they are not out yet.
    this.closeIfMisframed()
    if (chunk === undefined) this.res.end()
    else this.res.end(chunk)
  }

  protected abortResponse (): void {
    this.cutConnection()
  }

  /** Whether the response that went out is framed only by the connection's end. */
  protected closeDelimited (): boolean {
    return this.declaredLength === -1 && !this.res.chunkedEncoding
  }
}
