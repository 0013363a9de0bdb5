import type { Readable } from 'node:stream'
import type { WsgiStreamInput } from '../../types/protocol.js'
import { FST_WSGI_BODY_TOO_LARGE } from '../errors.js'

const EMPTY = Buffer.alloc(0)
const LF = 0x0a

/** The error a pending read gets when the client goes away mid-upload. */
export function uploadAborted (): Error {
  return Object.assign(new Error('The client closed the connection before the request body ended'), { code: 'ECONNRESET' })
}

/**
 * `wsgi.input` for `input: 'stream'`: the same file-like API as the buffered
 * input, returning Promises, over the request stream in paused mode. Nothing
 * is read from the stream until the app asks, so an app that reads slowly
 * holds the upload back at the socket (TCP backpressure) instead of piling it
 * up in memory.
 */
export class StreamInput implements WsgiStreamInput {
  private readonly stream: Readable
  private readonly limit: number
  /** Bytes taken from the stream but not yet returned to the app. */
  private pending: Buffer = EMPTY
  private received = 0
  private failure: Error | null = null

  constructor (stream: Readable, limit: number) {
    this.stream = stream
    this.limit = limit
  }

  /** Bytes of the body read from the client so far. */
  get bytesReceived (): number {
    return this.received
  }

  /** Lets the unread rest of the body flow into the void (the response is over). */
  discardRest (): void {
    if (!this.stream.readableEnded) this.stream.resume()
  }

  async read (size?: number | null): Promise<Buffer> {
    if (size == null || size < 0) {
      const chunks = [this.pending]
      let total = this.pending.length
      for (let chunk = await this.nextChunk(); chunk !== null; chunk = await this.nextChunk()) {
        chunks.push(chunk)
        total += chunk.length
      }
      this.pending = EMPTY
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
    }
    while (this.pending.length < size) {
      if (!await this.pull()) break
    }
    return this.take(Math.min(size, this.pending.length))
  }

  async readline (size?: number | null): Promise<Buffer> {
    const limited = size != null && size >= 0
    let searched = 0
    for (;;) {
      const newline = this.pending.indexOf(LF, searched)
      if (newline !== -1 && (!limited || newline < size)) return this.take(newline + 1)
      if (limited && this.pending.length >= size) return this.take(size)
      searched = this.pending.length
      if (!await this.pull()) return this.take(this.pending.length)
    }
  }

  async readlines (hint?: number | null): Promise<Buffer[]> {
    const lines: Buffer[] = []
    let total = 0
    for (let line = await this.readline(); line.length > 0; line = await this.readline()) {
      lines.push(line)
      total += line.length
      if (hint != null && hint > 0 && total >= hint) break
    }
    return lines
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Buffer> {
    for (let line = await this.readline(); line.length > 0; line = await this.readline()) yield line
  }

  /** The body as it arrives, chunk by chunk, without splitting it into lines. */
  async * chunks (): AsyncGenerator<Buffer> {
    if (this.pending.length > 0) yield this.take(this.pending.length)
    for (let chunk = await this.nextChunk(); chunk !== null; chunk = await this.nextChunk()) yield chunk
  }

  private take (end: number): Buffer {
    const chunk = this.pending.subarray(0, end)
    this.pending = end === this.pending.length ? EMPTY : this.pending.subarray(end)
    return chunk
  }

  /** Appends the next chunk to `pending`; false at the end of the body. */
  private async pull (): Promise<boolean> {
    const chunk = await this.nextChunk()
    if (chunk === null) return false
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    return true
  }

  /** The next chunk from the client, or null at the end of the body. */
  private async nextChunk (): Promise<Buffer | null> {
    for (;;) {
      if (this.failure !== null) throw this.failure
      const chunk: Buffer | null = this.stream.read()
      if (chunk !== null) {
        this.received += chunk.length
        if (this.received > this.limit) {
          this.failure = new FST_WSGI_BODY_TOO_LARGE(this.limit)
          throw this.failure
        }
        return chunk
      }
      if (this.stream.readableEnded) return null
      await this.dataOrEnd()
    }
  }

  private dataOrEnd (): Promise<void> {
    const stream = this.stream
    return new Promise((resolve) => {
      const settle = (err?: Error): void => {
        stream.off('readable', settle)
        stream.off('end', settle)
        stream.off('error', settle)
        stream.off('close', onClose)
        if (err instanceof Error) this.failure ??= err
        resolve()
      }
      // A client gone mid-upload must fail the pending read, not leave it hanging.
      // 'end' comes before 'close' and removes this listener: a close seen here is an abort.
      const onClose = (): void => settle(uploadAborted())
      stream.on('readable', settle)
      stream.on('end', settle)
      stream.on('error', settle)
      stream.on('close', onClose)
    })
  }
}
