import type { Chunk, Environ } from '../../lib/index.js'
import { BaseHandler } from '../../lib/index.js'

/**
 * BaseHandler over memory, as CPython's test_wsgiref drives its handlers over
 * BytesIO: records what a transport would put on the wire.
 */
export class MemoryHandler extends BaseHandler {
  statusLine = ''
  wireHeaders: string[] = []
  chunks: Buffer[] = []
  ended = false
  aborted = false
  gone = false
  /** Return false from writeBody this many times, to exercise drain. */
  fullWrites = 0
  drains = 0
  logged: Array<{ err: unknown, message: string }> = []
  disconnects: unknown[] = []

  constructor (environ: Partial<Environ> = {}) {
    super({ REQUEST_METHOD: 'GET', ...environ } as Environ)
  }

  get body (): string {
    return Buffer.concat(this.chunks).toString()
  }

  header (name: string): string | undefined {
    for (let i = 0; i < this.wireHeaders.length; i += 2) {
      if (this.wireHeaders[i].toLowerCase() === name.toLowerCase()) return this.wireHeaders[i + 1]
    }
    return undefined
  }

  protected writeHead (statusCode: number, reason: string, headers: string[]): void {
    this.statusLine = `${statusCode} ${reason}`
    this.wireHeaders = headers
  }

  protected writeBody (chunk: Chunk): boolean {
    this.chunks.push(Buffer.from(chunk))
    if (this.fullWrites > 0) {
      this.fullWrites--
      return false
    }
    return true
  }

  protected async waitForDrain (): Promise<void> {
    this.drains++
  }

  protected endResponse (chunk?: Chunk): void {
    if (chunk !== undefined) this.chunks.push(Buffer.from(chunk))
    this.ended = true
  }

  protected abortResponse (): void {
    this.aborted = true
  }

  protected clientGone (): boolean {
    return this.gone
  }

  protected logException (err: unknown, message: string): void {
    this.logged.push({ err, message })
  }

  protected logDisconnect (err: unknown): void {
    this.disconnects.push(err)
  }
}
