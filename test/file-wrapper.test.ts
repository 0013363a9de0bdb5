// wsgi.file_wrapper (docs/conformance.md E1), after test_wsgiref's testFileWrapper.
import { test } from 'tap'
import { Readable } from 'node:stream'
import { FileWrapper, type WsgiApp } from '../lib/index.js'
import { createServer } from './helpers/server.js'
import fastifyWsgi from '../lib/index.js'
import type { Test } from 'tap'
import { connect } from 'node:net'
import { openSync, fstatSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { listenWithMount, rawExchange, waitFor } from './helpers/server.js'
import { MemoryHandler } from './helpers/memory-handler.js'

/** A Python-style file over bytes: read(size) returns at most size bytes, then nothing. */
function pythonFile (data: string): { read: (size: number) => Buffer, close: () => void, closed: number, reads: number[] } {
  const buffer = Buffer.from(data)
  let position = 0
  const file = {
    closed: 0,
    reads: [] as number[],
    read (size: number): Buffer {
      file.reads.push(size)
      const chunk = buffer.subarray(position, position + size)
      position += chunk.length
      return chunk
    },
    close () { file.closed++ }
  }
  return file
}

test('E1: iterates a file-like in blocks of blockSize and forwards close()', async (t) => {
  const file = pythonFile('abcdefghij')
  const wrapper = new FileWrapper(file, 4)
  t.same([...wrapper].map(String), ['abcd', 'efgh', 'ij'])
  t.same(file.reads, [4, 4, 4, 4])
  wrapper.close()
  t.equal(file.closed, 1)
})

test('E1: the default block size is 8192', async (t) => {
  const file = pythonFile('x'.repeat(10000))
  t.same([...new FileWrapper(file)].map((block) => block.length), [8192, 1808])
})

test('E1: wraps a readable stream, destroying it on close()', async (t) => {
  const stream = Readable.from([Buffer.from('one'), Buffer.from('two')])
  const wrapper = new FileWrapper(stream)
  const chunks: string[] = []
  for await (const chunk of wrapper) chunks.push(String(chunk))
  t.same(chunks, ['one', 'two'])
  t.throws(() => [...wrapper], /iterate it with for await/)
  const another = Readable.from(['x'])
  new FileWrapper(another).close()
  t.ok(another.destroyed)
})

test('E1: a file-like without close() is fine to close', async (t) => {
  const wrapper = new FileWrapper({ read: () => '' })
  t.doesNotThrow(() => wrapper.close())
  const chunks: unknown[] = []
  for await (const chunk of wrapper) chunks.push(chunk)
  t.same(chunks, [], 'a sync file-like can be iterated asynchronously too')
})

test('E1: invalid file-likes and block sizes are refused with the value named', async (t) => {
  t.throws(() => new FileWrapper({}), { code: 'FST_WSGI_INVALID_OPTION', message: /expected a path, a file descriptor, a FileHandle, a readable stream or an object with read\(size\), got object Object/ })
  t.throws(() => new FileWrapper(null), { message: /got null/ })
  t.throws(() => new FileWrapper(-1), { message: /got number -1/ })
  t.throws(() => new FileWrapper(pythonFile(''), 0), { message: /blockSize must be a positive integer, got number 0/ })
})

test('E1: an app returns environ["wsgi.file_wrapper"](file) and the file is sent and closed once', async (t) => {
  const file = pythonFile('file contents\n'.repeat(1000))
  const app: WsgiApp = (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    const wrap = environ['wsgi.file_wrapper']
    if (wrap === undefined) throw new Error('wsgi.file_wrapper missing')
    return wrap(file, 1000)
  }
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { app })
  const response = await fastify.inject('/')
  t.equal(response.body, 'file contents\n'.repeat(1000))
  t.equal(file.closed, 1)
})

const CONTENT = Buffer.from('0123456789abcdef'.repeat(64 * 1024)) // 1 MiB

async function fileFixture (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fastify-wsgi-file-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'data.bin')
  await writeFile(path, CONTENT)
  return path
}

function serving (open: () => unknown | Promise<unknown>, headers: Array<[string, string]> = [], closes?: { count: number }): WsgiApp {
  return async (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'application/octet-stream'], ...headers])
    const wrapper = (environ['wsgi.file_wrapper'] as (f: unknown) => FileWrapper)(await open())
    if (closes !== undefined) {
      const close = wrapper.close.bind(wrapper)
      wrapper.close = () => { closes.count++; close() }
    }
    return wrapper
  }
}

test('E2: a file by path, fd or FileHandle is sent whole, with Content-Length from its size, and closed once', async (t) => {
  const path = await fileFixture(t)
  const opened: Array<{ fd: number }> = []
  const sources: Array<[string, () => unknown | Promise<unknown>]> = [
    ['path', () => path],
    ['fd', () => { const fd = openSync(path, 'r'); opened.push({ fd }); return fd }],
    ['FileHandle', async () => open(path, 'r')]
  ]
  for (const [name, source] of sources) {
    const closes = { count: 0 }
    const { origin } = await listenWithMount(t, { app: serving(source, [], closes) })
    const response = await request(origin)
    t.equal(response.headers['content-length'], String(CONTENT.length), name)
    t.ok(Buffer.from(await response.body.arrayBuffer()).equals(CONTENT), `${name}: every byte`)
    t.equal(closes.count, 1, `${name}: closed once`)
    if (name === 'fd') {
      // Checked before another file is opened, which could reuse the descriptor's number.
      await waitFor(() => { try { fstatSync(opened[0].fd); return false } catch { return true } })
      t.throws(() => fstatSync(opened[0].fd), { code: 'EBADF' }, 'the wrapper closed the descriptor')
    }
  }
})

test('E2: HEAD of a file sends its Content-Length and no body; the file is closed', async (t) => {
  const path = await fileFixture(t)
  const closes = { count: 0 }
  const { port } = await listenWithMount(t, { app: serving(() => path, [], closes) })
  const { text } = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(text, new RegExp(`Content-Length: ${CONTENT.length}\r\n`))
  t.match(text, /\r\n\r\n$/)
  t.equal(closes.count, 1)
})

test('E2: an app-declared Content-Length shorter than the file sends exactly that many bytes', async (t) => {
  const path = await fileFixture(t)
  const { origin } = await listenWithMount(t, { app: serving(() => path, [['Content-Length', '10']]) })
  const response = await request(origin)
  t.equal(await response.body.text(), '0123456789')
})

test('E2: a client that leaves mid-file stops the sending and the file is closed once, quietly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fastify-wsgi-file-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'big.bin')
  await writeFile(path, Buffer.alloc(64 * 1024 * 1024, 'z'))
  const closes = { count: 0 }
  const { port, logs } = await listenWithMount(t, { app: serving(() => path, [], closes) })
  const socket = connect({ port, host: '127.0.0.1' })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((resolve) => socket.once('data', resolve))
  socket.destroy()
  await waitFor(() => closes.count > 0, 3000)
  t.equal(closes.count, 1)
  t.notOk(logs.some((record) => record.level >= 50))
})

test('E2: without the fast path (any other transport) a file wrapper is iterated, with the same Content-Length', async (t) => {
  const path = await fileFixture(t)
  const handler = new MemoryHandler()
  await handler.run((_environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return new FileWrapper(path)
  })
  t.equal(handler.header('Content-Length'), String(CONTENT.length))
  t.ok(Buffer.concat(handler.chunks).equals(CONTENT))
})

test('E1: a file wrapper closed before it was read closes its descriptor or FileHandle itself', async (t) => {
  const path = await fileFixture(t)
  const fd = openSync(path, 'r')
  new FileWrapper(fd).close()
  t.throws(() => fstatSync(fd), { code: 'EBADF' })
  const handle = await open(path, 'r')
  const wrapper = new FileWrapper(handle)
  wrapper.close()
  wrapper.close()
  await waitFor(() => handle.fd === -1)
  t.equal(handle.fd, -1, 'the FileHandle is closed, once')
})

test('E2: a file body before startResponse fails like any body does', async (t) => {
  const path = await fileFixture(t)
  const handler = new MemoryHandler()
  await handler.run(() => new FileWrapper(path))
  t.equal((handler.logged[0].err as { code: string }).code, 'FST_WSGI_WRITE_BEFORE_START')
})

test('E2: a client gone before the file starts: nothing is sent, the file is closed, quietly', async (t) => {
  const path = await fileFixture(t)
  const closes = { count: 0 }
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const { port, logs } = await listenWithMount(t, {
    app: serving(async () => { await released; return path }, [], closes)
  })
  const socket = connect({ port, host: '127.0.0.1' })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((resolve) => setTimeout(resolve, 50))
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 50))
  release()
  await waitFor(() => closes.count > 0)
  t.equal(closes.count, 1)
  t.notOk(logs.some((record) => record.level >= 50))
})

test('E2: a file that fails to read after the headers went out ends the response visibly incomplete', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fastify-wsgi-dir-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { port, logs } = await listenWithMount(t, { app: serving(() => dir) })
  const { text, closedByServer } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  // The headers were only buffered when the read failed: the client gets nothing, or headers without their bytes.
  t.ok(text === '' || /\r\n\r\n$/.test(text), 'never the promised bytes')
  t.ok(closedByServer)
  t.match(logs.find((record) => record.level === 50)?.err?.code, 'EISDIR')
})
