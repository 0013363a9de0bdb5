// fastify.close() with responses and uploads in flight, and keep-alive reuse, over real sockets.
import { test, type Test } from 'tap'
import { connect as connectHttp2 } from 'node:http2'
import type { StreamingWsgiApp, WsgiApp } from '../lib/index.js'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import fastifyWsgi from '../lib/index.js'
import { linesApp, sleep } from './fixtures/apps.js'
import { createServer, listenWithMount, openConnection, tryConnect, waitFor, type Connection, type ServerOptions } from './helpers/server.js'

const bounded = { timeout: 10_000 }

const CHUNKED_END = '0\r\n\r\n'

const oneChunkApp: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return ['answered']
}

for (const how of ['mount', 'reply.wsgi'] as const) {
  test(`close() lets a streamed response on a keep-alive connection finish, then closes the connection and resolves (${how})`, bounded, async (t) => {
    const closed: string[] = []
    const app = linesApp(5, 100, closed)
    const { fastify } = createServer(t)
    if (how === 'mount') {
      await fastify.register(fastifyWsgi, { app, validate: true })
    } else {
      await fastify.register(fastifyWsgi, { validate: true })
      fastify.get('/*', (_request, reply) => reply.wsgi(app))
    }
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const port = (fastify.server.address() as AddressInfo).port
    const connection = openConnection(t, port)
    connection.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
    await waitFor(() => connection.text().includes('line 0'))
    const started = Date.now()
    const closing = fastify.close()
    await waitFor(() => !fastify.server.listening)
    await t.rejects(tryConnect(port), { code: 'ECONNREFUSED' }, 'no new connections once close() began')
    await closing
    t.ok(Date.now() - started < 3000, 'close() resolves once the response ended, not after keepAliveTimeout')
    await connection.closed
    t.ok(connection.text().endsWith(`line 4\n\r\n${CHUNKED_END}`), 'the whole body, with its last chunk')
    t.match(connection.text(), /connection: keep-alive/i, 'the response started before close()')
    t.same(closed, ['/slow'], 'the body closed exactly once')
  })
}

for (const input of ['buffer', 'stream'] as const) {
  test(`close() lets an upload in flight finish and be answered with Connection: close (input: ${input})`, bounded, async (t) => {
    const closed: string[] = []
    const echoLength: StreamingWsgiApp = async (environ, startResponse) => {
      const body = await environ['wsgi.input'].read()
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign([`got ${body.length} bytes`], { close () { closed.push(environ.PATH_INFO) } })
    }
    const bufferedEcho: WsgiApp = (environ, startResponse) => {
      const body = environ['wsgi.input'].read()
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign([`got ${body.length} bytes`], { close () { closed.push(environ.PATH_INFO) } })
    }
    const { fastify, port } = input === 'stream'
      ? await listenWithMount(t, { input, app: echoLength })
      : await listenWithMount(t, { input, app: bufferedEcho })
    const connection = openConnection(t, port)
    connection.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n')
    connection.socket.write(Buffer.alloc(10000, 'a'))
    await sleep(50)
    const closing = fastify.close()
    await sleep(100)
    connection.socket.write(Buffer.alloc(10000, 'b'))
    await closing
    await connection.closed
    t.match(connection.text(), /^HTTP\/1\.1 200 OK\r\n/)
    t.match(connection.text(), /connection: close/i, 'the client is told the connection ends')
    t.ok(connection.text().endsWith('got 20000 bytes'))
    t.same(closed, ['/upload'], 'the body closed exactly once')
  })
}

test('close() while an app is still working: its error response closes the connection, and close() resolves at once', bounded, async (t) => {
  const { fastify, port } = await listenWithMount(t, {
    app: async () => {
      await sleep(200)
      throw new Error('the backend went away')
    }
  })
  const connection = openConnection(t, port)
  connection.socket.write('GET /work HTTP/1.1\r\nHost: x\r\n\r\n')
  await sleep(50)
  const started = Date.now()
  await fastify.close()
  t.ok(Date.now() - started < 3000, 'close() resolves once the error response went out, not after keepAliveTimeout')
  await connection.closed
  t.match(connection.text(), /^HTTP\/1\.1 500 /)
  t.match(connection.text(), /connection: close/i, 'the client is told the connection ends')
})

test('close() lets an HTTP/2 stream in flight finish, then resolves', bounded, async (t) => {
  const closed: string[] = []
  const { fastify } = createServer(t, { http2: true })
  await fastify.register(fastifyWsgi, { app: linesApp(5, 100, closed), validate: true })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const session = connectHttp2(`http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`)
  t.teardown(() => session.destroy())
  const stream = session.request({ ':path': '/h2' })
  let body = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => { body += chunk })
  const ended = new Promise((resolve) => stream.once('end', resolve))
  await waitFor(() => body.includes('line 0'))
  await fastify.close()
  await ended
  t.equal(body, 'line 0\nline 1\nline 2\nline 3\nline 4\n')
  t.same(closed, ['/h2'])
})

test('keep-alive: streamed responses of a mounted app reuse one connection', bounded, async (t) => {
  const closed: string[] = []
  const { port } = await listenWithMount(t, {
    app: linesApp(2, 1, closed)
  })
  const connection = openConnection(t, port)
  for (const path of ['/a', '/b', '/c']) {
    const before = connection.text().length
    connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
    await waitFor(() => connection.text().slice(before).endsWith(CHUNKED_END))
  }
  t.equal(connection.text().split('HTTP/1.1 200 OK').length, 4, 'three responses on one connection')
  t.equal(connection.socket.destroyed, false, 'the connection is still open')
  t.same(closed, ['/a', '/b', '/c'])
})

test('close(): a request pipelined behind a response in flight is answered 503 with Connection: close, without running the app', bounded, async (t) => {
  const closed: string[] = []
  const { fastify, port } = await listenWithMount(t, { app: linesApp(5, 100, closed) })
  const connection = openConnection(t, port)
  connection.socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().includes('line 0'))
  const closing = fastify.close()
  await waitFor(() => !fastify.server.listening)
  connection.socket.write('POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')
  await closing
  await connection.closed
  const [first, second] = connection.text().split(CHUNKED_END)
  t.ok(first.endsWith('line 4\n\r\n'), 'the first response is whole')
  t.match(second, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'Fastify refuses the second (return503OnClosing)')
  t.match(second, /\r\nconnection: close\r\n/i)
  t.same(closed, ['/first'], 'the app ran for the first request only')
})

/** A server with a mount, and a connection to it that the server has accepted but that sent nothing yet. */
async function freshConnection (t: Test, options: ServerOptions = {}): Promise<{ fastify: FastifyInstance, connection: Connection }> {
  const { fastify } = createServer(t, options)
  await fastify.register(fastifyWsgi, { app: oneChunkApp, validate: true })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const port = (fastify.server.address() as AddressInfo).port
  const accepted = new Promise((resolve) => fastify.server.once('connection', resolve))
  const connection = openConnection(t, port)
  await accepted
  return { fastify, connection }
}

test('close(): a connection accepted just before it gets its first request answered, not reset', bounded, async (t) => {
  const { fastify, connection } = await freshConnection(t, { return503OnClosing: false })
  const closing = fastify.close()
  // The request arrives after close() began, as one sent just behind the connection's handshake does.
  connection.socket.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n')
  await connection.closed
  t.match(connection.text(), /^HTTP\/1\.1 200 OK\r\n/)
  t.match(connection.text(), /connection: close/i, 'closed after its answer')
  await closing
})

test('close(): a connection that sends nothing is closed after a short grace, and close() resolves', bounded, async (t) => {
  const { fastify, connection } = await freshConnection(t)
  const started = Date.now()
  await fastify.close()
  await connection.closed
  const elapsed = Date.now() - started
  t.ok(elapsed >= 900 && elapsed < 3000, `closed after ${elapsed} ms`)
  t.equal(connection.text(), '', 'nothing was answered')
})
