// onSendHooks: the response goes through reply.send, so Fastify's onSend hooks see it,
// and every rule of the reply.raw path still holds (docs/hooks-and-plugins.md).
import { test } from 'tap'
import { request } from 'undici'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fastifyCompress from '@fastify/compress'
import fastifyEtag from '@fastify/etag'
import fastifyWsgi, { type WsgiApp } from '../lib/index.js'
import { createServer, listenWithMount, parseHead, rawExchange, waitFor } from './helpers/server.js'

const TEXT: Array<[string, string]> = [['Content-Type', 'text/plain']]

/** 64 lines from a generator: a body of unknown length, streamed. */
const LINES = Array.from({ length: 64 }, (_, i) => `line ${i} ${'x'.repeat(100)}\n`)
const streamed: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', TEXT)
  return (function * () { yield * LINES })()
}

/** An onSend hook that holds the response back a while, as compression can: Fastify writes nothing meanwhile. */
function addSlowOnSendHook (fastify: FastifyInstance): void {
  fastify.addHook('onSend', async (_request, _reply, payload) => {
    await new Promise((resolve) => setTimeout(resolve, 30))
    return payload
  })
}

test('an onSend hook sees a one-chunk body as a Buffer and may replace it; Content-Length follows', async (t) => {
  const { fastify } = createServer(t)
  fastify.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-seen', Buffer.isBuffer(payload) ? `buffer:${String(payload)}` : typeof payload)
    return Buffer.isBuffer(payload) ? Buffer.from(String(payload).toUpperCase() + '!') : payload
  })
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('201 Made It', TEXT)
      return ['hello']
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const { statusLine, headers, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 201 Made It', "the app's reason phrase is kept")
  t.equal(headers['x-seen'], 'buffer:hello')
  t.equal(body, 'HELLO!')
  t.equal(headers['content-length'], '6')
  t.equal(headers['content-type'], 'text/plain')
  t.match(headers.server, /^fastify-wsgi\//)
  t.ok(headers.date)
})

// Without onSend hooks a string body goes to reply.send as it is (the fast path), but only where
// Fastify would send it unchanged: these fail if a string reached Fastify where it types or serializes text.
test('onSendHooks without hooks: a one-chunk string body keeps its bytes and the app\'s Content-Type, whatever Fastify does with strings', async (t) => {
  const { fastify } = createServer(t)
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.url === '/serialized') reply.serializer(() => 'serialized by Fastify')
  })
  const types: Record<string, string | null> = {
    '/text': 'text/html; charset=utf-8',
    '/json': 'application/json',
    '/problem': 'Application/Problem+JSON',
    '/serialized': 'text/plain',
    '/malformed': 'not a media type',
    '/none': null
  }
  const typed: WsgiApp = (environ, startResponse) => {
    const type = types[environ.PATH_INFO]
    startResponse('200 OK', type === null ? [] : [['Content-Type', type]])
    return ['{"text":"héllo"}']
  }
  await fastify.register(fastifyWsgi, { onSendHooks: true, app: typed })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const expected: Record<string, string> = {
    '/text': 'text/html; charset=utf-8',
    '/json': 'application/json',
    '/problem': 'Application/Problem+JSON',
    '/serialized': 'text/plain',
    // Fastify's own choice for a body it cannot type from the app's header: bytes.
    '/malformed': 'application/octet-stream',
    '/none': 'application/octet-stream'
  }
  for (const [path, type] of Object.entries(expected)) {
    const response = await request(`http://127.0.0.1:${port}${path}`)
    t.equal(await response.body.text(), '{"text":"héllo"}', `${path}: the body as the app gave it`)
    t.equal(response.headers['content-type'], type, `${path}: Content-Type`)
    t.equal(response.headers['content-length'], String(Buffer.byteLength('{"text":"héllo"}')), `${path}: Content-Length`)
  }
})

test('Fastify internals the onSendHooks fast path reads: a route\'s onSend hooks and a reply\'s serializer', async (t) => {
  const { routeHasNoOnSendHooks, replyHasNoSerializer } = await import('../lib/fastify/internals.js')
  const { fastify } = createServer(t)
  const seen: Record<string, [boolean, boolean]> = {}
  await fastify.register(async (scope) => {
    scope.get('/plain', (request, reply) => {
      seen.plain = [routeHasNoOnSendHooks(request), replyHasNoSerializer(reply)]
      return 'ok'
    })
  })
  await fastify.register(async (scope) => {
    scope.addHook('onSend', async (_request, _reply, payload) => payload)
    scope.get('/hooked', (request, reply) => {
      reply.serializer(String)
      seen.hooked = [routeHasNoOnSendHooks(request), replyHasNoSerializer(reply)]
      return 'ok'
    })
  })
  await fastify.inject('/plain')
  await fastify.inject('/hooked')
  t.same(seen, { plain: [true, true], hooked: [false, false] })
  // Where Fastify keeps neither, the answers are the safe ones: hooks may run, a serializer may be set.
  const fresh = await t.mockImport<typeof import('../lib/fastify/internals.js')>('../lib/fastify/internals.js')
  t.equal(fresh.routeHasNoOnSendHooks({} as never), false)
  t.equal(fresh.replyHasNoSerializer({} as never), false)
})

test('without onSendHooks, onSend hooks do not run on a mounted app (the reply.raw path)', async (t) => {
  const { fastify } = createServer(t)
  let ran = 0
  fastify.addHook('onSend', async () => { ran++ })
  await fastify.register(fastifyWsgi, { app: streamed })
  const response = await fastify.inject('/')
  t.equal(response.body, LINES.join(''))
  t.equal(ran, 0)
})

for (const encoding of ['gzip', 'br'] as const) {
  test(`@fastify/compress ${encoding}s a streamed body with onSendHooks; the bytes decompress to the app's`, async (t) => {
    const { fastify } = createServer(t)
    await fastify.register(fastifyCompress, { threshold: 0 })
    let closes = 0
    await fastify.register(fastifyWsgi, {
      onSendHooks: true,
      validate: true,
      input: 'buffer',
      app: (environ, startResponse) => Object.assign(streamed(environ, startResponse) as Iterable<string>, { close: () => { closes++ } })
    })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const { port } = fastify.server.address() as { port: number }
    const response = await request(`http://127.0.0.1:${port}/`, { headers: { 'accept-encoding': encoding } })
    t.equal(response.headers['content-encoding'], encoding)
    const compressed = Buffer.from(await response.body.arrayBuffer())
    const plain = encoding === 'gzip' ? gunzipSync(compressed) : brotliDecompressSync(compressed)
    t.equal(plain.toString(), LINES.join(''))
    t.ok(compressed.length < plain.length, 'compressed')
    t.equal(closes, 1)
  })
}

test('@fastify/compress compresses a one-chunk body, and leaves a client without Accept-Encoding alone', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyCompress, { threshold: 0 })
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', TEXT)
      return [LINES.join('')]
    }
  })
  const gzipped = await fastify.inject({ url: '/', headers: { 'accept-encoding': 'gzip' } })
  t.equal(gzipped.headers['content-encoding'], 'gzip')
  t.equal(gunzipSync(gzipped.rawPayload).toString(), LINES.join(''))
  const identity = await fastify.inject({ url: '/', headers: { 'accept-encoding': 'identity' } })
  t.equal(identity.headers['content-encoding'], undefined)
  t.equal(identity.headers['content-length'], String(LINES.join('').length))
  t.equal(identity.body, LINES.join(''))
})

test('@fastify/etag tags a one-chunk body; If-None-Match gets 304 with no body', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyEtag)
  let calls = 0
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      calls++
      startResponse('200 OK', TEXT)
      return [Buffer.from('cacheable')]
    }
  })
  const first = await fastify.inject('/')
  const etag = first.headers.etag as string
  t.match(etag, /^"/)
  const second = await fastify.inject({ url: '/', headers: { 'if-none-match': etag } })
  t.equal(second.statusCode, 304)
  t.equal(second.body, '')
  t.equal(calls, 2, 'the app still runs: the tag comes from its body')
})

test('reply.wsgi(app, { onSendHooks: true }) runs onSend hooks for one route only', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyCompress, { threshold: 0 })
  await fastify.register(fastifyWsgi)
  fastify.get('/hooked', (_request, reply) => reply.wsgi(streamed, { onSendHooks: true }))
  fastify.get('/raw', (_request, reply) => reply.wsgi(streamed))
  const headers = { 'accept-encoding': 'gzip' }
  const hooked = await fastify.inject({ url: '/hooked', headers })
  t.equal(hooked.headers['content-encoding'], 'gzip')
  t.equal(gunzipSync(hooked.rawPayload).toString(), LINES.join(''))
  const raw = await fastify.inject({ url: '/raw', headers })
  t.equal(raw.headers['content-encoding'], undefined)
  t.equal(raw.body, LINES.join(''))
})

test('onSendHooks must be a boolean', async (t) => {
  const { fastify } = createServer(t)
  await t.rejects(async () => { await fastify.register(fastifyWsgi, { app: streamed, onSendHooks: 'yes' as unknown as boolean }) }, {
    code: 'FST_WSGI_INVALID_OPTION',
    message: /onSendHooks.*expected a boolean, got "yes"/
  })
})

test('onSendHooks: hook headers merge as on the raw path (the app wins a clash, Set-Cookie keeps both, reply.raw headers stay)', async (t) => {
  const { fastify } = createServer(t)
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.header('x-hook', 'from-hook')
    reply.header('x-clash', 'from-hook')
    reply.header('content-length', '999')
    reply.raw.setHeader('set-cookie', 'raw=1')
    reply.raw.setHeader('x-raw', 'from-raw')
  })
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-Clash', 'from-app'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Dup', '1'], ['x-dup', '2']])
      return ['body']
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const response = await request(`http://127.0.0.1:${port}/`)
  t.equal(await response.body.text(), 'body')
  t.equal(response.headers['x-hook'], 'from-hook')
  t.equal(response.headers['x-clash'], 'from-app')
  t.equal(response.headers['x-raw'], 'from-raw')
  t.equal(response.headers['content-length'], '4', "a hook's Content-Length never frames the body")
  t.same(response.headers['set-cookie'], ['raw=1', 'a=1', 'b=2'])
  t.same(response.headers['x-dup'], ['1', '2'])
})

test('onSendHooks: HEAD keeps Content-Length and sends no body; 204 and 304 send none; close() runs once each', async (t) => {
  let closes = 0
  const { port } = await listenWithMount(t, {
    onSendHooks: true,
    input: 'buffer',
    app: (environ, startResponse) => {
      const status = environ.PATH_INFO.slice(1)
      const noContent = status === '204' || status === '304'
      startResponse(`${status} Status`, noContent ? [] : TEXT)
      return Object.assign(status === '200' ? ['hello'] : (function * () { yield noContent ? '' : 'streamed' })(), { close: () => { closes++ } })
    }
  })
  const head = parseHead((await rawExchange(port, 'HEAD /200 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text)
  t.equal(head.headers['content-length'], '5')
  t.equal(head.body, '')
  for (const status of ['204', '304']) {
    const { text } = await rawExchange(port, `GET /${status} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const { statusLine, headers, body } = parseHead(text)
    t.equal(statusLine, `HTTP/1.1 ${status} Status`)
    t.equal(body, '')
    t.equal(headers['transfer-encoding'], undefined)
  }
  await waitFor(() => closes === 3)
  t.equal(closes, 3)
})

test('onSendHooks: an error before the response gets the error handler; after bytes went out, an incomplete response', async (t) => {
  const { fastify, logs } = createServer(t)
  fastify.setErrorHandler(async (err: Error, _request, reply) => { await reply.code(503).send({ handled: err.message }) })
  // The body fails while nothing of it is on the wire yet.
  addSlowOnSendHook(fastify)
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (environ, startResponse) => {
      if (environ.PATH_INFO === '/early') throw new Error('early failure')
      startResponse('404 Not Here', [['Content-Type', 'text/plain'], ['X-App', 'yes']])
      return (async function * () {
        yield 'partial'
        if (environ.PATH_INFO === '/late') await new Promise((resolve) => setTimeout(resolve, 150))
        throw new Error(`${environ.PATH_INFO.slice(1)} failure`)
      })()
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  for (const path of ['/early', '/first-chunk']) {
    const { text } = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    const { statusLine, headers, body } = parseHead(text)
    t.equal(statusLine, 'HTTP/1.1 503 Service Unavailable', `${path}: the error handler answers`)
    t.equal(headers['x-app'], undefined, `${path}: none of the app's headers`)
    t.equal(body, JSON.stringify({ handled: `${path.slice(1)} failure` }))
  }
  const late = await rawExchange(port, 'GET /late HTTP/1.1\r\nHost: x\r\n\r\n')
  const { statusLine, headers, body } = parseHead(late.text)
  t.equal(statusLine, 'HTTP/1.1 404 Not Here')
  t.equal(headers['x-app'], 'yes')
  t.equal(body, '7\r\npartial\r\n', 'no terminating chunk')
  t.ok(late.closedByServer)
  t.ok(logs.some((record) => record.level === 50 && record.err?.message === 'late failure'))
})

test('onSendHooks: a slow client holds the iteration back (backpressure through reply.send)', async (t) => {
  let pulled = 0
  const chunk = 'x'.repeat(64 * 1024)
  const { port } = await listenWithMount(t, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', TEXT)
      return (function * () {
        for (let i = 0; i < 400; i++) {
          pulled++
          yield chunk
        }
      })()
    }
  })
  const socket = connect({ port, host: '127.0.0.1' })
  t.teardown(() => socket.destroy())
  let received = 0
  socket.on('data', (data: Buffer) => {
    received += data.length
    socket.pause()
  })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => received > 0)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(pulled < 200, `pulled ${pulled} of 400 chunks while the client did not read`)
  socket.on('data', () => socket.resume())
  socket.resume()
  await waitFor(() => pulled === 400 && received > 400 * chunk.length, 10000)
  t.equal(pulled, 400)
})

test('onSendHooks: a file body and a legacy write() body arrive whole', async (t) => {
  const { origin } = await listenWithMount(t, {
    onSendHooks: true,
    input: 'buffer',
    app: (environ, startResponse) => {
      const wrap = environ['wsgi.file_wrapper']
      if (environ.PATH_INFO === '/file' && wrap !== undefined) {
        startResponse('200 OK', TEXT)
        return wrap(new URL(import.meta.url).pathname)
      }
      const write = startResponse('200 OK', TEXT)
      write('legacy ')
      return ['write']
    }
  })
  const { readFile } = await import('node:fs/promises')
  const file = await request(`${origin}/file`)
  t.equal(await file.body.text(), await readFile(new URL(import.meta.url), 'utf8'))
  t.equal(await (await request(`${origin}/legacy`)).body.text(), 'legacy write')
})

test('onSendHooks: an unread upload too big to drain closes the connection after the response', async (t) => {
  const { port } = await listenWithMount(t, {
    onSendHooks: true,
    input: 'stream',
    app: async (_environ, startResponse) => {
      startResponse('200 OK', TEXT)
      return ['not reading']
    }
  })
  const { text, closedByServer } = await rawExchange(port,
    `PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\n\r\n${'u'.repeat(1024)}`)
  const { headers, body } = parseHead(text)
  t.equal(body, 'not reading')
  t.equal(headers.connection, 'close')
  t.ok(closedByServer)
})

test('onSendHooks: a body cut at its Content-Length after its headers went out still closes the connection', async (t) => {
  const { port } = await listenWithMount(t, {
    onSendHooks: true,
    validate: false,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '5']])
      return (async function * () {
        yield 'abc'
        await new Promise((resolve) => setTimeout(resolve, 50))
        yield 'defgh'
      })()
    }
  })
  const response = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const { headers, body } = parseHead(response.text)
  t.equal(headers.connection, 'keep-alive', 'the headers were out before the surplus came')
  t.equal(body, 'abcde', 'exactly the declared bytes, and no second response')
  t.ok(response.closedByServer)
})

test('onSendHooks: a HEAD response failing after its headers (close() throws) ends the connection', async (t) => {
  const { port, logs } = await listenWithMount(t, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', TEXT)
      return Object.assign((function * () { yield 'x' })(), { close: () => { throw new Error('close failed') } })
    }
  })
  const response = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n')
  t.ok(response.closedByServer)
  t.ok(logs.some((record) => record.level === 50 && record.err?.message === 'close failed'))
})

test('onSendHooks: a body cut at its Content-Length while an onSend hook still holds the headers gets Connection: close', async (t) => {
  const { fastify } = createServer(t)
  addSlowOnSendHook(fastify)
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '5']])
      return ['abc', 'defgh']
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const response = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const { headers, body } = parseHead(response.text)
  t.equal(headers.connection, 'close')
  t.equal(body, 'abcde')
  t.ok(response.closedByServer)
  // The request pipelined behind it was answered into a connection that is gone: nothing may wait for it.
  await fastify.close()
})
