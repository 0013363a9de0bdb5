// The lingering close of a connection answered while its request body still arrives (nginx's
// lingering_close): the answer goes out with a FIN, the server reads and discards the rest for
// at most lingeringTime ms and lingeringLimit bytes, and no request after it on the connection runs.
// Each bound is observed on the server's side of the connection, in this process; early-answers.test.ts
// has the client's view, with the server in a process of its own.
import { test } from 'tap'
import type { FastifyWsgiOptions, StreamingWsgiApp, WsgiApp } from '../lib/index.js'
import type { IncomingMessage } from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { closesBeforeBodyEnd } from '../lib/connection/lingering-close.js'
import { listenWithMount, parseHead, waitFor } from './helpers/server.js'

const bounded = { timeout: 15000 }

function counter (calls: string[]): WsgiApp {
  return (environ, startResponse) => {
    calls.push(environ.PATH_INFO)
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [String(environ['wsgi.input'].read().length)]
  }
}

const throwsFirst: StreamingWsgiApp = () => { throw new Error('failed before reading') }
const answersFirst: StreamingWsgiApp = (_environ, startResponse) => {
  startResponse('403 Forbidden', [['Content-Type', 'text/plain']])
  return ['no']
}

interface Watched {
  port: number
  /** The server's side of the last connection: when it closed, and how many bytes it read. */
  server: () => { closedAt: number, bytesRead: number }
}

/** A mount whose connections are watched from the server's side. */
async function watchedMount (t: Parameters<typeof listenWithMount>[0], options: FastifyWsgiOptions): Promise<Watched> {
  const { fastify, port } = await listenWithMount(t, options)
  let last = { closedAt: 0, bytesRead: 0 }
  fastify.server.on('connection', (socket: Socket) => {
    const seen = { closedAt: 0, bytesRead: 0 }
    last = seen
    socket.once('close', () => { seen.closedAt = Date.now(); seen.bytesRead = socket.bytesRead })
  })
  return { port, server: () => last }
}

/** A client that may keep sending after the server's FIN (allowHalfOpen), collecting what it reads. */
function halfOpenClient (t: Parameters<typeof listenWithMount>[0], port: number): { socket: Socket, text: () => string, ended: Promise<number> } {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { text += chunk })
  socket.on('error', () => {})
  const ended = new Promise<number>((resolve) => socket.once('end', () => resolve(Date.now())))
  t.teardown(() => { socket.destroy() })
  return { socket, text: () => text, ended }
}

const head = (path: string, length: number, extra = ''): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${extra}\r\n`

test('after a 413 the server half-closes, reads on while the client sends, and closes once the client closes its side', bounded, async (t) => {
  const { port, server } = await watchedMount(t, { bodyLimit: 10, lingeringTime: 10_000, app: counter([]) })
  const client = halfOpenClient(t, port)
  client.socket.write(head('/', 1024 * 1024) + 'x'.repeat(100_000))
  await client.ended
  const { statusLine, headers } = parseHead(client.text())
  t.equal(statusLine, 'HTTP/1.1 413 Payload Too Large')
  t.equal(headers.connection, 'close')
  t.equal(server().closedAt, 0, 'the answer came with a FIN, and the server still reads')
  const written = await new Promise<Error | null | undefined>((resolve) => client.socket.write('y'.repeat(100_000), resolve))
  t.notOk(written, 'what the client sends after the FIN is taken')
  const endedAt = Date.now()
  client.socket.end()
  await waitFor(() => server().closedAt !== 0, 5000)
  t.ok(server().closedAt - endedAt < 2000, 'the server closed when the client closed its side, not after lingeringTime')
})

test('the lingering ends after lingeringTime while the client neither sends nor closes', bounded, async (t) => {
  const { port, server } = await watchedMount(t, { bodyLimit: 10, lingeringTime: 300, app: counter([]) })
  const client = halfOpenClient(t, port)
  client.socket.write(head('/', 1024 * 1024) + 'x'.repeat(100))
  const finAt = await client.ended
  await waitFor(() => server().closedAt !== 0, 5000)
  const lingered = server().closedAt - finAt
  t.ok(lingered >= 250 && lingered < 2000, `closed ${lingered} ms after the answer (lingeringTime 300)`)
})

test('the lingering ends after lingeringLimit bytes, well before lingeringTime', bounded, async (t) => {
  const { port, server } = await watchedMount(t, { bodyLimit: 10, lingeringTime: 10_000, lingeringLimit: 64 * 1024, app: counter([]) })
  const client = halfOpenClient(t, port)
  const startedAt = Date.now()
  client.socket.write(head('/', 8 * 1024 * 1024))
  for (let i = 0; i < 128; i++) client.socket.write(Buffer.alloc(64 * 1024, 'z'))
  await waitFor(() => server().closedAt !== 0, 5000)
  t.ok(server().closedAt - startedAt < 5000, 'closed before lingeringTime')
  t.ok(server().bytesRead < 1024 * 1024, `the server read ${server().bytesRead} of 8 MiB`)
  t.match(client.text(), /^HTTP\/1\.1 413 /)
})

for (const off of [{ lingeringTime: 0 }, { lingeringLimit: 0 }]) {
  test(`${Object.keys(off)[0]} 0 closes at once, as Node does`, bounded, async (t) => {
    const { port, server } = await watchedMount(t, { bodyLimit: 10, ...off, app: counter([]) })
    const client = halfOpenClient(t, port)
    client.socket.write(head('/', 1024 * 1024) + 'x'.repeat(100))
    const finAt = await client.ended
    await waitFor(() => server().closedAt !== 0, 5000)
    t.ok(server().closedAt - finAt < 250, 'closed with the answer')
  })
}

for (const [name, app] of [['fails before it read', throwsFirst], ['answers without reading', answersFirst]] as const) {
  test(`stream mode: an app that ${name} a small body on a connection that closes is answered at once, and the connection lingers`, bounded, async (t) => {
    const { port, server } = await watchedMount(t, { input: 'stream', lingeringTime: 10_000, app, validate: false })
    const client = halfOpenClient(t, port)
    client.socket.write(head('/', 60_000, 'Connection: close\r\n') + 'x'.repeat(100))
    await client.ended
    t.match(client.text(), /^HTTP\/1\.1 (500|403) /, 'answered while the body is still on its way')
    t.equal(server().closedAt, 0, 'the server still reads')
    client.socket.end('x'.repeat(59_900))
    await waitFor(() => server().closedAt !== 0, 5000)
    t.ok(server().closedAt !== 0, 'and closes when the client does')
  })
}

test('stream mode: a body cut at its Content-Length, answered without reading on a connection that closes, lingers once', bounded, async (t) => {
  const app: StreamingWsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '3']])
    return ['abcdef']
  }
  const { port, server } = await watchedMount(t, { input: 'stream', lingeringTime: 10_000, app, validate: false })
  const client = halfOpenClient(t, port)
  client.socket.write(head('/', 1024 * 1024, 'Connection: close\r\n') + 'x'.repeat(100))
  await client.ended
  t.match(client.text(), /\r\n\r\nabc$/, 'the bytes the app declared, then the FIN')
  t.equal(server().closedAt, 0, 'the server still reads')
  client.socket.end()
  await waitFor(() => server().closedAt !== 0, 5000)
  t.ok(server().closedAt !== 0, 'and closes when the client does')
})

test('a request pipelined behind an upload refused with 413 never runs: the connection closes after the 413', bounded, async (t) => {
  const calls: string[] = []
  const { port, server } = await watchedMount(t, { bodyLimit: 10, app: counter(calls) })
  const client = halfOpenClient(t, port)
  const body = 'x'.repeat(100_000)
  client.socket.end(head('/big', body.length) + body + 'GET /second HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => server().closedAt !== 0, 5000)
  t.equal(parseHead(client.text()).headers.connection, 'close', 'a rest over 64 KiB is not drained to keep the connection')
  t.equal(client.text().split('HTTP/1.1').length, 2, 'one answer')
  t.same(calls, [], 'the pipelined GET never reached the app')
})

test('a small rest after a 413 is still drained, and the connection kept: the next request is answered', bounded, async (t) => {
  const calls: string[] = []
  const { port } = await watchedMount(t, { bodyLimit: 10, app: counter(calls) })
  const client = halfOpenClient(t, port)
  const body = 'x'.repeat(60_000)
  client.socket.write(head('/big', body.length) + body + 'POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
  await client.ended
  t.match(client.text(), /^HTTP\/1\.1 413 [\s\S]*HTTP\/1\.1 200 OK[\s\S]*\r\n\r\n2$/)
  t.same(calls, ['/second'])
})

test('a connection whose client already closed its side closes at once, without lingering', bounded, async (t) => {
  // Node's HTTP server ends such a connection itself (unless created with allowHalfOpen): the socket alone shows it.
  const server = createNetServer({ allowHalfOpen: true })
  t.teardown(() => { server.close() })
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' })
  t.teardown(() => { client.destroy() })
  const socket = await accepted
  socket.resume()
  const request = { complete: false, httpVersionMajor: 1, headers: { 'content-length': '100' }, socket } as unknown as IncomingMessage
  t.notOk(closesBeforeBodyEnd(request, 0, { lingeringTime: 10_000, lingeringLimit: 1024 }), 'a rest of 100 bytes may be drained; should the connection close, it lingers')
  client.end()
  await new Promise((resolve) => socket.once('end', resolve))
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
  const startedAt = Date.now()
  socket.destroySoon()
  t.ok(await closedAt - startedAt < 1000, 'closed at once')
})
