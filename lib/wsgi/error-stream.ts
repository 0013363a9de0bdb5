import type { WsgiErrors } from '../../types/protocol.js'

/** The part of a logger `wsgi.errors` needs (pino's and Fastify's loggers fit). */
export interface ErrorLogger {
  error (msg: string): void
}

/**
 * `wsgi.errors` (PEP 3333 "Input and Error Streams"): a text stream whose complete lines go to the
 * request's logger at error level, so each line carries the request id.
 * A partial line waits for its newline, for flush(), or for the response end.
 */
export class ErrorStream implements WsgiErrors {
  private readonly log: ErrorLogger
  private pending = ''

  constructor (log: ErrorLogger) {
    this.log = log
  }

  write (text: string): void {
    const all = this.pending + String(text)
    const lastNewline = all.lastIndexOf('\n')
    if (lastNewline === -1) {
      this.pending = all
      return
    }
    this.pending = all.slice(lastNewline + 1)
    for (const line of all.slice(0, lastNewline).split('\n')) this.log.error(line)
  }

  writelines (lines: Iterable<string>): void {
    for (const line of lines) this.write(line)
  }

  flush (): void {
    if (this.pending.length === 0) return
    const line = this.pending
    this.pending = ''
    this.log.error(line)
  }
}
