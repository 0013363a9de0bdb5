import type { Chunk } from '../types/protocol.js'
import { describeValue } from './response-checks.js'
import { FST_WSGI_INVALID_OPTION } from './errors.js'

/** A Python-style file: `read(size)` returns at most `size` bytes, and nothing at the end. */
interface SyncFileLike {
  read (size: number): Chunk
  close?: () => void
}

/** A Node readable stream or any other async iterable of chunks. */
type AsyncFileLike = AsyncIterable<Chunk> & { close?: () => void, destroy?: () => void }

function isSyncFileLike (filelike: unknown): filelike is SyncFileLike {
  return typeof (filelike as SyncFileLike | null)?.read === 'function' &&
    typeof (filelike as AsyncFileLike)[Symbol.asyncIterator] !== 'function'
}

function isAsyncFileLike (filelike: unknown): filelike is AsyncFileLike {
  return typeof (filelike as AsyncFileLike | null)?.[Symbol.asyncIterator] === 'function'
}

/**
 * `wsgi.file_wrapper` (wsgiref.util.FileWrapper, checklist E1): a body that
 * reads a file-like object in blocks and forwards `close()` to it. It accepts
 * a Python-style object with a synchronous `read(size)`, or a readable stream.
 */
export class FileWrapper implements Iterable<Chunk>, AsyncIterable<Chunk> {
  readonly filelike: SyncFileLike | AsyncFileLike
  readonly blockSize: number

  constructor (filelike: unknown, blockSize = 8192) {
    if (!isSyncFileLike(filelike) && !isAsyncFileLike(filelike)) {
      throw new FST_WSGI_INVALID_OPTION('wsgi.file_wrapper', `expected an object with read(size) or a readable stream, got ${describeValue(filelike)}`)
    }
    if (!Number.isInteger(blockSize) || blockSize <= 0) {
      throw new FST_WSGI_INVALID_OPTION('wsgi.file_wrapper', `blockSize must be a positive integer, got ${describeValue(blockSize)}`)
    }
    this.filelike = filelike
    this.blockSize = blockSize
  }

  * [Symbol.iterator] (): Iterator<Chunk> {
    const filelike = this.filelike
    if (!isSyncFileLike(filelike)) throw new TypeError('This FileWrapper wraps a stream: iterate it with for await')
    for (let block = filelike.read(this.blockSize); block.length > 0; block = filelike.read(this.blockSize)) {
      yield block
    }
  }

  [Symbol.asyncIterator] (): AsyncIterator<Chunk> {
    const filelike = this.filelike
    return isSyncFileLike(filelike) ? this[Symbol.iterator]() as unknown as AsyncIterator<Chunk> : filelike[Symbol.asyncIterator]()
  }

  /** Closes the wrapped file: its `close()`, or `destroy()` for a stream. */
  close (): void {
    const filelike = this.filelike as AsyncFileLike
    if (typeof filelike.close === 'function') filelike.close()
    else if (typeof filelike.destroy === 'function') filelike.destroy()
  }
}

/** The `wsgi.file_wrapper` callable placed in every environ. */
export function fileWrapper (filelike: unknown, blockSize?: number): FileWrapper {
  return new FileWrapper(filelike, blockSize)
}
