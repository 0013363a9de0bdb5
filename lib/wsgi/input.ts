import type { Readable } from 'node:stream'
import type { WsgiInput } from '../../types/protocol.js'
import { FST_WSGI_BODY_TOO_LARGE, FST_WSGI_BODY_UNAVAILABLE } from '../errors.js'
import { uploadAborted } from './stream-input.js'

const EMPTY = Buffer.alloc(0)
const LF = 0x0a

/**
 * `wsgi.input` over a fully received body (`input: 'buffer'`): the file-like
 * API legacy handlers expect (PEP 3333 "Input and Error Streams"), synchronous. Reads never go past
 * the end of this request's body.
 */
export class BufferedInput implements WsgiInput {
  private readonly body: Buffer
  private position = 0

  constructor (body: Buffer) {
    this.body = body
  }

  read (size?: number | null): Buffer {
    const end = size == null || size < 0 ? this.body.length : Math.min(this.body.length, this.position + size)
    return this.take(end)
  }

  readline (size?: number | null): Buffer {
    const newline = this.body.indexOf(LF, this.position)
    let end = newline === -1 ? this.body.length : newline + 1
    if (size != null && size >= 0) end = Math.min(end, this.position + size)
    return this.take(end)
  }

  readlines (hint?: number | null): Buffer[] {
    const lines: Buffer[] = []
    let total = 0
    for (let line = this.readline(); line.length > 0; line = this.readline()) {
      lines.push(line)
      total += line.length
      if (hint != null && hint > 0 && total >= hint) break
    }
    return lines
  }

  * [Symbol.iterator] (): Iterator<Buffer> {
    for (let line = this.readline(); line.length > 0; line = this.readline()) yield line
  }

  private take (end: number): Buffer {
    if (end <= this.position) return EMPTY
    const chunk = this.body.subarray(this.position, end)
    this.position = end
    return chunk
  }
}

/**
 * `wsgi.input` when the body was already consumed by a content-type parser of
 * the route (reply.wsgi on a route outside a mount): every read, in either
 * input mode, throws an error that explains why.
 */
export class UnavailableInput implements WsgiInput {
  private readonly reason: string

  constructor (reason: string) {
    this.reason = reason
  }

  read (): Buffer { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
  readline (): Buffer { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
  readlines (): Buffer[] { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
  [Symbol.iterator] (): Iterator<Buffer> { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
  [Symbol.asyncIterator] (): AsyncIterator<Buffer> { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
  chunks (): AsyncIterable<Buffer> { throw new FST_WSGI_BODY_UNAVAILABLE(this.reason) }
}

/**
 * Reads a whole request body into memory, refusing it with 413 as soon as it
 * is known to exceed `limit`. Like Fastify's own body reader, it stops
 * collecting but leaves the stream flowing, so the rest is drained and the
 * 413 stays readable by a client that is still sending.
 */
export function readBody (stream: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    const onData = (chunk: Buffer): void => {
      received += chunk.length
      if (received > limit) {
        cleanup()
        reject(new FST_WSGI_BODY_TOO_LARGE(limit))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    function cleanup (): void {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      stream.off('close', onClose)
    }
    // A client that goes away mid-upload must fail the read, not leave it pending.
    const onClose = (): void => {
      if (!stream.readableEnded) onError(uploadAborted())
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.on('close', onClose)
    stream.resume()
  })
}
