// wsgi.input in `input: 'stream'` mode (issue: request bodies), over real sockets.
import { test } from 'tap'
import { connect, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import fastifyWsgi, { type StreamingWsgiApp, type WsgiStreamInput } from '../lib/index.js'
import { createServer, listenWithMount, parseHead, rawExchange, waitFor } from './helpers/server.js'

/** An app that runs `read` over wsgi.input and answers with what it returns, as JSON. */
function reader (read: (input: WsgiStreamInput) => Promise<unknown>): StreamingWsgiApp {
  return async (environ, startResponse) => {
    const result = await read(environ['wsgi.input'])
    startResponse('200 OK', [['Content-Type', 'application/json']])
    return [JSON.stringify(result)]
  }
}

/** Sends a request in pieces, pausing between them, and resolves with the whole response. */
async function sendInPieces (port: number, pieces: string[], pauseMs = 5): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' })
  const received: Buffer[] = []
  socket.on('data', (chunk) => received.push(chunk))
  const closed = new Promise((resolve) => socket.on('close', resolve))
  await new Promise((resolve) => socket.once('connect', resolve))
  for (const piece of pieces) {
    socket.write(piece)
    await sleep(pauseMs)
  }
  await Promise.race([closed, sleep(300)])
  socket.destroy()
  return Buffer.concat(received).toString()
}

test('the app runs before the body has arrived, and reads it as it comes', async (t) => {
  const events: string[] = []
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: reader(async (input) => {
      events.push('app started')
      const first = await input.read(5)
      events.push(`read ${String(first)}`)
      return String(await input.read())
    })
  })
  const response = await sendInPieces(port, [
    'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\n',
    'hello',
    ' world'
  ], 30)
  t.equal(parseHead(response).body, '" world"')
  t.same(events, ['app started', 'read hello'])
})

test('read, readline and readlines work across chunk boundaries, with and without a size', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: reader(async (input) => [
      String(await input.readline()),
      String(await input.readline(3)),
      String(await input.readline()),
      String(await input.read(4)),
      (await input.readlines()).map(String),
      String(await input.read()),
      String(await input.readline())
    ])
  })
  const body = 'first line\nsecond\nthird line\nlast one without newline'
  const pieces = body.match(/.{1,3}/gs) ?? []
  const response = await sendInPieces(port, [
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, ...pieces
  ], 1)
  t.same(JSON.parse(parseHead(response).body), [
    'first line\n', 'sec', 'ond\n', 'thir', ['d line\n', 'last one without newline'], '', ''
  ])
})

test('readlines(hint) stops once the hint is reached; read(-1) reads everything', async (t) => {
  const { origin } = await listenWithMount(t, {
    input: 'stream',
    app: reader(async (input) => [(await input.readlines(4)).map(String), String(await input.read(-1))])
  })
  const response = await request(origin, { method: 'POST', body: 'ab\ncd\nef\n' })
  t.same(await response.body.json(), [['ab\n', 'cd\n'], 'ef\n'])
})

test('the input is async-iterable by lines, and chunks() yields the raw chunks', async (t) => {
  const { origin } = await listenWithMount(t, {
    prefix: '/lines',
    input: 'stream',
    app: reader(async (input) => {
      const lines: string[] = []
      for await (const line of input) lines.push(String(line))
      return lines
    })
  })
  const lines = await request(origin + '/lines', { method: 'POST', body: 'a\nb\n\nc' })
  t.same(await lines.body.json(), ['a\n', 'b\n', '\n', 'c'])
})

test('chunks() starts with what a readline left over, then the rest as it arrives', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: reader(async (input) => {
      const head = String(await input.readline())
      const rest: Buffer[] = []
      for await (const chunk of input.chunks()) rest.push(chunk)
      return [head, Buffer.concat(rest).toString(), rest.length >= 2]
    })
  })
  const response = await sendInPieces(port, [
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    '8\r\nhead\nabc\r\n', '3\r\ndef\r\n', '0\r\n\r\n'
  ], 20)
  t.same(JSON.parse(parseHead(response).body), ['head\n', 'abcdef', true])
})

test('bodies from 0 bytes to several MiB arrive intact, Content-Length and chunked', async (t) => {
  const { origin } = await listenWithMount(t, {
    input: 'stream',
    bodyLimit: 8 * 1024 * 1024,
    app: reader(async (input) => {
      let total = 0
      let sum = 0
      for await (const chunk of input.chunks()) {
        total += chunk.length
        for (const byte of chunk) sum = (sum + byte) % 65521
      }
      return [total, sum]
    })
  })
  for (const size of [0, 1, 16 * 1024 + 3, 3 * 1024 * 1024 + 7]) {
    const body = Buffer.alloc(size, 'abcdefghijklmnopqrstuvwxyz')
    let sum = 0
    for (const byte of body) sum = (sum + byte) % 65521
    const sized = await request(origin, { method: 'POST', body })
    t.same(await sized.body.json(), [size, sum], `${size} bytes with Content-Length`)
    const chunked = await request(origin, {
      method: 'POST',
      body: Readable.from((function * () { for (let i = 0; i < size; i += 65536) yield body.subarray(i, i + 65536) })())
    })
    t.same(await chunked.body.json(), [size, sum], `${size} bytes chunked`)
  }
})

test('F2: CONTENT_LENGTH is the header value, absent for a chunked body; wsgi.input_terminated is true', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: async (environ, startResponse) => {
      await environ['wsgi.input'].read()
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [`${String(environ.CONTENT_LENGTH)} ${String(environ['wsgi.input_terminated'])}`]
    }
  })
  const sized = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab')
  t.match(sized.text, /Content-Length: 6\r\n/)
  t.match(sized.text, /\r\n\r\n2 true$/)
  const chunked = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n')
  t.match(chunked.text, /\r\n\r\nundefined true$/)
})

test('a declared Content-Length over bodyLimit is answered 413 before the app runs', async (t) => {
  let calls = 0
  const { origin } = await listenWithMount(t, { input: 'stream', bodyLimit: 10, app: reader(async () => { calls++ }) })
  const response = await request(origin, { method: 'POST', body: 'x'.repeat(11) })
  t.equal(response.statusCode, 413)
  t.equal((await response.body.json() as { code: string }).code, 'FST_WSGI_BODY_TOO_LARGE')
  t.equal(calls, 0)
})

test('the read that crosses bodyLimit fails with FST_WSGI_BODY_TOO_LARGE, and the response is 413', async (t) => {
  let failure: { code?: string } | undefined
  const { port, logs } = await listenWithMount(t, {
    input: 'stream',
    bodyLimit: 10,
    app: async (environ) => {
      try {
        await environ['wsgi.input'].read()
      } catch (err) {
        failure = err as { code: string }
        throw err
      }
      return []
    }
  })
  const response = await rawExchange(port,
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n')
  const { statusLine, headers } = parseHead(response.text)
  t.equal(statusLine, 'HTTP/1.1 413 Payload Too Large')
  t.equal(headers.connection, 'close', 'an unknown rest of the upload is not drained')
  t.equal(failure?.code, 'FST_WSGI_BODY_TOO_LARGE')
  t.notOk(logs.some((record) => record.level >= 50), 'a 4xx is not a server error')
})

test('an app may catch the limit error and answer on its own', async (t) => {
  const { origin } = await listenWithMount(t, {
    input: 'stream',
    bodyLimit: 4,
    app: async (environ, startResponse) => {
      try {
        await environ['wsgi.input'].read()
        startResponse('200 OK', [['Content-Type', 'text/plain']])
      } catch (err) {
        startResponse('422 Unprocessable Entity', [['Content-Type', 'text/plain']], err)
      }
      return ['handled']
    }
  })
  const response = await request(origin, { method: 'POST', body: Readable.from(['abc', 'def']) })
  t.equal(response.statusCode, 422)
  t.equal(await response.body.text(), 'handled')
})

test('a client that aborts mid-upload fails the pending read; nothing is logged as an error', async (t) => {
  let readError: { code?: string } | undefined
  let closes = 0
  const { port, origin, logs } = await listenWithMount(t, {
    input: 'stream',
    app: async (environ, startResponse) => {
      try {
        await environ['wsgi.input'].read()
      } catch (err) {
        readError = err as { code: string }
        throw err
      }
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign(['never'], { close: () => { closes++ } })
    }
  })
  const socket: Socket = connect({ port, host: '127.0.0.1' })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial')
  await sleep(50)
  socket.destroy()
  await waitFor(() => readError !== undefined)
  t.equal(readError?.code, 'ECONNRESET')
  t.equal(closes, 0, 'the app never returned a body')
  t.notOk(logs.some((record) => record.level >= 50), 'no error log')
  const next = await request(origin, { method: 'POST', body: 'ok' })
  t.equal(next.statusCode, 200, 'the server keeps serving')
  await next.body.dump()
})

test('F2: a small unread rest is drained: the next pipelined request on the connection is answered', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: async (environ, startResponse) => {
      const first = await environ['wsgi.input'].read(3)
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [`${environ.PATH_INFO}:${String(first)}`]
    }
  })
  const body = 'abc' + 'x'.repeat(1000)
  const response = await rawExchange(port,
    `POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
    'POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz')
  const parts = response.text.split('HTTP/1.1 200 OK')
  t.equal(parts.length, 3, 'both requests answered')
  t.match(parts[1], /\/one:abc$/)
  t.notMatch(parts[1], /connection: close/i)
  t.match(parts[2], /\/two:xyz$/, 'the next request never saw the previous body')
})

test('F2: a request without a body keeps its connection alive, even though the app never read wsgi.input', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: (environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [`${environ.REQUEST_METHOD} ${environ.PATH_INFO}`]
    }
  })
  const response = await rawExchange(port,
    'GET /one HTTP/1.1\r\nHost: x\r\n\r\nDELETE /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.notMatch(response.text, /connection: close\r\n[\s\S]*HTTP\/1\.1/i, 'no response before the last says close')
  t.match(response.text, /GET \/one[\s\S]*DELETE \/two[\s\S]*GET \/three$/, 'the three answered on one connection')
})

test('F2: a connection that closes after the response with a small rest unread lingers: the response arrives whole', async (t) => {
  const responseBody = 'r'.repeat(4 * 1024 * 1024)
  const { port } = await listenWithMount(t, {
    input: 'stream',
    app: (environ, startResponse) => {
      // /unframed: no length, so HTTP/1.0 delimits the body by the close, even with keep-alive.
      const length: Array<[string, string]> = environ.PATH_INFO === '/unframed' ? [] : [['Content-Length', String(responseBody.length)]]
      startResponse('200 OK', [['Content-Type', 'text/plain'], ...length])
      return [responseBody.slice(0, 1024), responseBody.slice(1024)]
    }
  })
  // Closing a socket with unread bytes resets it, and the reset discards what the kernel had not sent yet: it lingers instead.
  const upload = 'u'.repeat(64 * 1024 - 36)
  const cases = [['HTTP/1.1', '/', 'Connection: close\r\n'], ['HTTP/1.0', '/', ''], ['HTTP/1.0', '/unframed', 'Connection: keep-alive\r\n']]
  for (const [version, path, connection] of cases) {
    const response = await rawExchange(port, `POST ${path} ${version}\r\nHost: x\r\n${connection}Content-Length: ${upload.length}\r\n\r\n${upload}`, 1000)
    t.equal(parseHead(response.text).body.length, responseBody.length, `${version} ${path} ${connection.trim()}: every byte of the response`)
    t.ok(response.closedByServer)
  }
})

test('a large unread rest closes the connection after the response', async (t) => {
  const { port } = await listenWithMount(t, {
    input: 'stream',
    bodyLimit: 1024 * 1024 * 1024,
    app: (_environ, startResponse) => {
      startResponse('401 Unauthorized', [['Content-Type', 'text/plain']])
      return ['no']
    }
  })
  const response = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc')
  t.equal(parseHead(response.text).headers.connection, 'close')
  t.match(response.text, /\r\n\r\nno$/)
  t.ok(response.closedByServer)
})

test('Expect: 100-continue gets 100 Continue, then the body arrives', async (t) => {
  const { port } = await listenWithMount(t, { input: 'stream', app: reader(async (input) => String(await input.read())) })
  const socket = connect({ port, host: '127.0.0.1' })
  let received = ''
  socket.on('data', (chunk) => { received += String(chunk) })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  for (let i = 0; i < 50 && !received.includes('100 Continue'); i++) await sleep(5)
  t.match(received, /^HTTP\/1.1 100 Continue\r\n\r\n/)
  socket.write('body')
  await new Promise((resolve) => socket.on('close', resolve))
  t.match(received, /\r\n\r\n"body"$/)
})

test('an app that does not read holds the upload back at the socket (bounded memory)', async (t) => {
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let socketBytes = 0
  const { port } = await listenWithMount(t, {
    input: 'stream',
    bodyLimit: 1024 * 1024 * 1024,
    app: async (environ, startResponse) => {
      await released
      socketBytes = (environ['fastify.request'] as { raw: { socket: { bytesRead: number } } }).raw.socket.bytesRead
      let total = 0
      for await (const chunk of environ['wsgi.input'].chunks()) total += chunk.length
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [String(total)]
    }
  })
  const size = 64 * 1024 * 1024
  const socket = connect({ port, host: '127.0.0.1' })
  let received = ''
  socket.on('data', (chunk) => { received += String(chunk) })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`)
  const block = Buffer.alloc(1024 * 1024, 'z')
  let written = 0
  const writer = (async () => {
    while (written < size) {
      written += block.length
      if (!socket.write(block)) await new Promise((resolve) => socket.once('drain', resolve))
    }
  })()
  await sleep(300)
  const writtenWhilePaused = written
  release()
  await writer
  await new Promise((resolve) => socket.on('close', resolve))
  t.ok(socketBytes < 16 * 1024 * 1024, `the server read ${socketBytes} bytes while the app did not read`)
  t.ok(writtenWhilePaused < size, 'the client was held back')
  t.match(received, new RegExp(`\\r\\n\\r\\n${size}$`))
})

test('reply.wsgi(app, { input: \'stream\' }) streams the body of a route that keeps it raw', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  await fastify.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
    scope.post('/upload', (_request, reply) => reply.wsgi(reader(async (input) => {
      const lines: string[] = []
      for await (const line of input) lines.push(String(line))
      return lines
    }), { input: 'stream' }))
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const response = await request(`http://127.0.0.1:${port}/upload`, { method: 'POST', body: 'one\ntwo\n' })
  t.same(await response.body.json(), ['one\n', 'two\n'])
})

test('Expect: 100-continue works in buffer mode too', async (t) => {
  const { port } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [environ['wsgi.input'].read()]
    }
  })
  const socket = connect({ port, host: '127.0.0.1' })
  let received = ''
  socket.on('data', (chunk) => { received += String(chunk) })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  await waitFor(() => received.includes('100 Continue'))
  t.match(received, /^HTTP\/1.1 100 Continue\r\n\r\n/)
  socket.write('body')
  await new Promise((resolve) => socket.on('close', resolve))
  t.match(received, /\r\n\r\nbody$/)
})

test('buffer mode: bodies up to several MiB, Content-Length and chunked, arrive intact', async (t) => {
  const { origin } = await listenWithMount(t, {
    bodyLimit: 8 * 1024 * 1024,
    app: (environ, startResponse) => {
      const body = environ['wsgi.input'].read()
      let sum = 0
      for (const byte of body) sum = (sum + byte) % 65521
      startResponse('200 OK', [['Content-Type', 'application/json']])
      return [JSON.stringify([body.length, sum])]
    }
  })
  for (const size of [0, 65537, 5 * 1024 * 1024 + 3]) {
    const body = Buffer.alloc(size, 'qwertyuiop')
    let sum = 0
    for (const byte of body) sum = (sum + byte) % 65521
    const sized = await request(origin, { method: 'POST', body })
    t.same(await sized.body.json(), [size, sum], `${size} bytes with Content-Length`)
    const chunked = await request(origin, { method: 'POST', body: Readable.from((function * () { for (let i = 0; i < size; i += 100003) yield body.subarray(i, i + 100003) })()) })
    t.same(await chunked.body.json(), [size, sum], `${size} bytes chunked`)
  }
})

test('read(size) past the end returns what is left; readline(size) cuts before a far newline', async (t) => {
  const { origin } = await listenWithMount(t, {
    input: 'stream',
    app: reader(async (input) => [String(await input.readline(2)), String(await input.read(100)), String(await input.read(5))])
  })
  const response = await request(origin, { method: 'POST', body: 'abcdef\nxy' })
  t.same(await response.body.json(), ['ab', 'cdef\nxy', ''])
})
