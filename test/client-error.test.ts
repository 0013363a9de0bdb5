// Requests Node's parser refuses before any route runs, answered by wsgiClientErrorHandler (what
// makeServer and the CLI use): wsgiref's 414 for a request line over the limit, 431 for a header
// section over it, 400 for a malformed head; each readable by a client that is still sending,
// on every supported Node (a plain close with unread input would reset the connection).
import { test, type Test } from 'tap'
import { Socket, connect } from 'node:net'
import fastifyWsgi, { makeServer, wsgiClientErrorHandler, type StreamingWsgiApp, type WsgiApp } from '../lib/index.js'
import { createServer, parseHead, rawExchange } from './helpers/server.js'

const hello: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return ['hello']
}

const longTarget = `/${'x'.repeat(70 * 1024)}`

async function listenPlain (t: Test): Promise<number> {
  const { fastify } = createServer(t, { clientErrorHandler: wsgiClientErrorHandler })
  fastify.get('/', async () => 'hello')
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  return (fastify.server.address() as { port: number }).port
}

test('a request line over the limit gets 414 with a JSON body, and the connection closes cleanly', async (t) => {
  const port = await listenPlain(t)
  const { text, closedByServer } = await rawExchange(port, `GET ${longTarget} HTTP/1.1\r\nHost: x\r\n\r\n`)
  const { statusLine, headers, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 414 URI Too Long')
  t.equal(headers.connection, 'close')
  t.same(JSON.parse(body), { error: 'URI Too Long', message: 'The request line is longer than the server accepts', statusCode: 414 })
  t.ok(closedByServer, 'a clean close, not a reset')
})

test('a header section over the limit gets 431', async (t) => {
  const port = await listenPlain(t)
  const { text } = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(70 * 1024)}\r\n\r\n`)
  t.equal(parseHead(text).statusLine, 'HTTP/1.1 431 Request Header Fields Too Large')
})

test('a request line over the limit behind a pipelined request: the first is answered, then 414', async (t) => {
  const port = await listenPlain(t)
  const { text } = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET ${longTarget.slice(0, 20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`)
  const statusLines = text.match(/HTTP\/1\.1 \d{3} [^\r]*/g)
  t.same(statusLines, ['HTTP/1.1 200 OK', 'HTTP/1.1 414 URI Too Long'])
})

test('a malformed head gets 400', async (t) => {
  const port = await listenPlain(t)
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n')
  t.equal(parseHead(text).statusLine, 'HTTP/1.1 400 Bad Request')
})

test('makeServer answers an over-long request line with 414 to a client still sending its request', async (t) => {
  const server = await makeServer(hello, { port: 0, logger: false })
  t.teardown(() => server.close())
  const { port } = server.server.address() as { port: number }
  // The client sends 1 MiB of request line in pieces and reads while it sends: the answer must
  // arrive and the connection end cleanly, not with a reset that would discard the answer.
  const outcome = await new Promise<{ text: string, error: string | null }>((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.on('end', () => { socket.destroy(); resolve({ text, error: null }) })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ text, error: err.code ?? 'error' }))
    socket.write('GET /')
    const piece = 'x'.repeat(64 * 1024)
    let sent = 0
    const sendMore = (): void => {
      while (sent < 16 && !socket.destroyed) {
        sent++
        if (!socket.write(piece)) {
          socket.once('drain', sendMore)
          return
        }
      }
    }
    sendMore()
  })
  t.equal(outcome.error, null, 'no reset')
  t.equal(parseHead(outcome.text).statusLine, 'HTTP/1.1 414 URI Too Long')
})

test('a connection already destroyed gets no answer and nothing throws', async (t) => {
  const { fastify } = createServer(t)
  const socket = new Socket()
  socket.destroy()
  t.doesNotThrow(() => wsgiClientErrorHandler.call(fastify, Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket))
  t.doesNotThrow(() => wsgiClientErrorHandler.call(fastify, new Error('late'), socket))
})

test('a request whose response already started when its body turned out malformed: the connection is cut', async (t) => {
  const { fastify } = createServer(t, { clientErrorHandler: wsgiClientErrorHandler })
  const startsBeforeReading: StreamingWsgiApp = (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return (async function * () {
      yield 'started'
      yield await environ['wsgi.input'].read()
    })()
  }
  await fastify.register(fastifyWsgi, { input: 'stream', app: startsBeforeReading })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const socket = connect({ port, host: '127.0.0.1' })
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    text += chunk
    // Once the response started, the body goes on with a chunk size that is not hex.
    if (text.includes('started')) socket.write('zz\r\n')
  })
  socket.write('POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
  await new Promise((resolve) => { socket.on('close', resolve); socket.on('error', () => {}) })
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/)
  t.notMatch(text, /400 Bad Request/, 'no second status line inside the started response')
})

test('an error without the parser\'s packet is answered 431 for an overflow, and a socket no longer writable is destroyed', async (t) => {
  const { fastify } = createServer(t)
  const { Duplex } = await import('node:stream')
  const written: string[] = []
  const fake = new Duplex({ read () {}, write (chunk, _encoding, callback) { written.push(String(chunk)); callback() } }) as unknown as Socket
  Object.assign(fake, { destroySoon: () => fake.destroy() })
  wsgiClientErrorHandler.call(fastify, Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' }), fake)
  t.match(written.join(''), /^HTTP\/1\.1 431 /)
  const ended = new Socket()
  ended.end()
  wsgiClientErrorHandler.call(fastify, Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD' }), ended)
  t.ok(ended.destroyed, 'nothing could be written: destroyed')
})
