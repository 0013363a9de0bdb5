import { createReadStream, closeSync, fstat, type ReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import type { FileHandle } from 'node:fs/promises'
import type { Chunk } from '../../types/protocol.js'
import { describeValue } from './values.js'
import { FST_WSGI_INVALID_OPTION } from '../errors.js'

/** A Python-style file: `read(size)` returns at most `size` bytes, and nothing at the end. */
interface SyncFileLike {
  read (size: number): Chunk
  close?: () => void
}

/** A Node readable stream or any other async iterable of chunks. */
type AsyncFileLike = AsyncIterable<Chunk> & { close?: () => void, destroy?: () => void }

/** A file on disk, by path, descriptor or FileHandle: the server may send it by its fast path (docs/conformance.md E2). */
export type FileSource = { path: string } | { fd: number } | { handle: FileHandle }

function isSyncFileLike (filelike: unknown): filelike is SyncFileLike {
  return typeof (filelike as SyncFileLike | null)?.read === 'function' &&
    typeof (filelike as AsyncFileLike)[Symbol.asyncIterator] !== 'function'
}

function isAsyncFileLike (filelike: unknown): filelike is AsyncFileLike {
  return typeof (filelike as AsyncFileLike | null)?.[Symbol.asyncIterator] === 'function'
}

function isFileHandle (filelike: unknown): filelike is FileHandle {
  return typeof (filelike as FileHandle | null)?.fd === 'number' && typeof (filelike as FileHandle).stat === 'function'
}

const fstatAsync = promisify(fstat)

function syncFileLike (filelike: SyncFileLike | AsyncFileLike | null): SyncFileLike {
  if (!isSyncFileLike(filelike)) throw new TypeError('This FileWrapper reads a stream or a file: iterate it with for await')
  return filelike
}

/**
 * `wsgi.file_wrapper` (wsgiref.util.FileWrapper, docs/conformance.md E1): a body that
 * reads a file-like object in blocks and forwards `close()` to it. It takes a
 * path, a file descriptor or a FileHandle (sent from the file's start, with
 * Content-Length from its size), a readable stream, or a Python-style object
 * with a synchronous `read(size)`.
 */
export class FileWrapper implements Iterator<Chunk, undefined>, Iterable<Chunk>, AsyncIterable<Chunk> {
  readonly filelike: SyncFileLike | AsyncFileLike | null
  /** The file on disk, when there is one: what the transport may send by its fast path. */
  readonly file: FileSource | null
  readonly blockSize: number
  private stream: ReadStream | null = null
  private closed = false

  constructor (filelike: unknown, blockSize = 8192) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) {
      throw new FST_WSGI_INVALID_OPTION('wsgi.file_wrapper', `blockSize must be a positive integer, got ${describeValue(blockSize)}`)
    }
    this.blockSize = blockSize
    if (typeof filelike === 'string') this.file = { path: filelike }
    else if (typeof filelike === 'number' && Number.isInteger(filelike) && filelike >= 0) this.file = { fd: filelike }
    else if (isFileHandle(filelike)) this.file = { handle: filelike }
    else if (isSyncFileLike(filelike) || isAsyncFileLike(filelike)) this.file = null
    else {
      throw new FST_WSGI_INVALID_OPTION('wsgi.file_wrapper',
        `expected a path, a file descriptor, a FileHandle, a readable stream or an object with read(size), got ${describeValue(filelike)}`)
    }
    this.filelike = this.file === null ? filelike as SyncFileLike | AsyncFileLike : null
  }

  /** The file's size in bytes (files only). */
  async size (): Promise<number> {
    const file = this.file as FileSource
    if ('path' in file) return (await stat(file.path)).size
    if ('fd' in file) return (await fstatAsync(file.fd)).size
    return (await file.handle.stat()).size
  }

  /** A stream of the file's first `length` bytes, closed with the wrapper (files only). */
  openStream (length?: number): ReadStream {
    const file = this.file as FileSource
    const range = { start: 0, end: length === undefined ? undefined : length - 1, highWaterMark: Math.max(this.blockSize, 64 * 1024) }
    this.stream = 'path' in file
      ? createReadStream(file.path, range)
      : createReadStream(null as unknown as string, { ...range, fd: 'fd' in file ? file.fd : file.handle, autoClose: false })
    return this.stream
  }

  /** Its own iterator, as CPython's (`iter(wrapper) is wrapper`): each next() reads one block. */
  [Symbol.iterator] (): this {
    syncFileLike(this.filelike)
    return this
  }

  /** The next block of a Python-style file; done once its read() returns nothing. */
  next (): IteratorResult<Chunk, undefined> {
    const block = syncFileLike(this.filelike).read(this.blockSize)
    return block.length > 0 ? { value: block, done: false } : { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): AsyncIterator<Chunk> {
    if (this.file !== null) return this.openStream()[Symbol.asyncIterator]()
    const filelike = this.filelike as SyncFileLike | AsyncFileLike
    return isSyncFileLike(filelike) ? this[Symbol.iterator]() as unknown as AsyncIterator<Chunk> : filelike[Symbol.asyncIterator]()
  }

  /** Closes the wrapped file once: its `close()`, `destroy()` for a stream, or the descriptor or FileHandle itself. */
  close (): void {
    if (this.closed) return
    this.closed = true
    const file = this.file
    if (file !== null) {
      if (this.stream !== null) this.stream.destroy()
      else if ('fd' in file) closeSync(file.fd)
      // A FileHandle closes asynchronously; one the app closed already is no error of the response.
      else if ('handle' in file) file.handle.close().catch(() => {})
      return
    }
    const filelike = this.filelike as AsyncFileLike
    if (typeof filelike.close === 'function') filelike.close()
    else if (typeof filelike.destroy === 'function') filelike.destroy()
  }
}

/** The `wsgi.file_wrapper` callable placed in every environ. */
export function fileWrapper (filelike: unknown, blockSize?: number): FileWrapper {
  return new FileWrapper(filelike, blockSize)
}
