// wsgi.file_wrapper (checklist E1), after test_wsgiref's testFileWrapper.
import { test } from 'tap'
import { Readable } from 'node:stream'
import { FileWrapper, type WsgiApp } from '../lib/index.js'
import { createServer } from './helpers/server.js'
import fastifyWsgi from '../lib/index.js'

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
  t.throws(() => new FileWrapper('path.txt'), { code: 'FST_WSGI_INVALID_OPTION', message: /expected an object with read\(size\) or a readable stream, got "path.txt"/ })
  t.throws(() => new FileWrapper(null), { message: /got null/ })
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
