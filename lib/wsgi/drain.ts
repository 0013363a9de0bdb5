import type { EventEmitter } from 'node:events'

/**
 * Resolves once `output` drains, or it or one of `alsoClosing` closes: then
 * nothing will drain, and the handler sees the client gone when it writes again.
 */
export function drainOrClose (output: EventEmitter, ...alsoClosing: EventEmitter[]): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      output.off('drain', done)
      output.off('close', done)
      for (const other of alsoClosing) other.off('close', done)
      resolve()
    }
    output.on('drain', done)
    output.on('close', done)
    for (const other of alsoClosing) other.on('close', done)
  })
}
