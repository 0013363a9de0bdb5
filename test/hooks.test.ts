// Headers that Fastify hooks and plugins set before the app runs reach the client (docs/hooks-and-plugins.md).
import { test } from 'tap'
import { request } from 'undici'
import type { WsgiApp } from '../lib/index.js'
import fastifyWsgi from '../lib/index.js'
import { hookHeaders } from '../lib/fastify/response-headers.js'
import type { FastifyReply } from 'fastify'
import { abortAfterFirstBytes, createServer, waitFor } from './helpers/server.js'

const app: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-Clash', 'from-app'], ['Set-Cookie', 'app=1']])
  return ['body']
}

for (const onSendHooks of [false, true]) {
  test(`${onSendHooks ? 'onSendHooks: ' : ''}headers set by hooks are sent with the app's response; the app wins a clash, Set-Cookie keeps both, the app's last`, async (t) => {
    const { fastify } = createServer(t)
    fastify.addHook('onRequest', async (_request, reply) => {
      reply.header('x-hook', 'from-hook')
      reply.header('x-clash', 'from-hook')
      reply.header('set-cookie', 'hook=1')
      reply.header('x-many', ['a', 'b'])
      reply.header('x-number', 42)
      reply.raw.setHeader('x-raw', 'from-raw') // as @fastify/helmet does
    })
    await fastify.register(fastifyWsgi, { prefix: '/app', app, onSendHooks })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const address = fastify.server.address() as { port: number }
    const response = await request(`http://127.0.0.1:${address.port}/app/x`)
    t.equal(await response.body.text(), 'body')
    const headers = response.headers
    t.equal(headers['x-hook'], 'from-hook')
    t.equal(headers['x-clash'], 'from-app', 'one header, the app\'s')
    t.same(headers['set-cookie'], ['hook=1', 'app=1'], "both cookies, the app's last (a browser keeps the last)")
    t.same(headers['x-many'], ['a', 'b'])
    t.equal(headers['x-number'], '42')
    t.equal(headers['x-raw'], 'from-raw')
  })
}

// hookHeaders skips reply.getHeaders() when Fastify's own header store (kReplyHeaders) and reply.raw
// are both empty: these pin where Fastify keeps reply.header() values, one source at a time.
for (const [source, setHeader] of [
  ['reply.header()', (reply: FastifyReply) => { reply.header('x-only', 'one') }],
  ['reply.raw.setHeader()', (reply: FastifyReply) => { reply.raw.setHeader('x-only', 'one') }]
] as const) {
  test(`a header set only with ${source} in a hook is sent, and the next request without it has none`, async (t) => {
    const { fastify } = createServer(t)
    fastify.addHook('onRequest', async (request, reply) => {
      if (request.url.endsWith('/with')) setHeader(reply)
    })
    await fastify.register(fastifyWsgi, { app })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
    const withHeader = await request(`${origin}/with`)
    await withHeader.body.dump()
    t.equal(withHeader.headers['x-only'], 'one')
    const without = await request(`${origin}/without`)
    await without.body.dump()
    t.equal(without.headers['x-only'], undefined)
  })
}

test('hookHeaders: a reply without Fastify\'s header store falls back to reply.getHeaders()', async (t) => {
  const fallback = { raw: { getHeaderNames: () => [] }, getHeaders: () => ({ 'x-from': 'getHeaders' }) } as unknown as FastifyReply
  t.same(hookHeaders(fallback), { 'x-from': 'getHeaders' }, 'after Fastify\'s replies')
  // A fresh copy of the module meets no Fastify reply first: its store's key is never found.
  const fresh = await t.mockImport<typeof import('../lib/fastify/response-headers.js')>('../lib/fastify/response-headers.js')
  t.same(fresh.hookHeaders(fallback), { 'x-from': 'getHeaders' }, 'in a Fastify that keeps no store')
})

test('a hook that answers stops the app from running', async (t) => {
  let calls = 0
  const { fastify } = createServer(t)
  fastify.addHook('preHandler', async (_request, reply) => { await reply.code(401).send({ error: 'unauthorized' }) })
  const counted: WsgiApp = (environ, startResponse) => { calls++; return app(environ, startResponse) }
  await fastify.register(fastifyWsgi, { prefix: '/app', app: counted })
  const response = await fastify.inject('/app/x')
  t.equal(response.statusCode, 401)
  t.equal(calls, 0)
})

test('onResponse hooks see the app\'s status', async (t) => {
  const statuses: number[] = []
  const { fastify } = createServer(t)
  fastify.addHook('onResponse', async (_request, reply) => { statuses.push(reply.statusCode) })
  await fastify.register(fastifyWsgi, {
    prefix: '/app',
    input: 'buffer',
    app: (environ, startResponse) => {
      if (environ.PATH_INFO === '/boom') throw new Error('boom')
      startResponse(environ.PATH_INFO === '/new' ? '201 Created' : '404 Not Found', [])
      return []
    }
  })
  for (const path of ['/app/new', '/app/missing', '/app/boom']) await fastify.inject(path)
  t.same(statuses, [201, 404, 500])
})

test('the app\'s repeated headers all reach the client, also when a plugin set headers on reply.raw', async (t) => {
  const repeating: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', [['Set-Cookie', 'a=1'], ['X-Dup', 'one'], ['Set-Cookie', 'b=2'], ['x-dup', 'two']])
    return ['ok']
  }
  const { fastify } = createServer(t)
  await fastify.register(async (scope) => {
    scope.addHook('onRequest', async (_request, reply) => { reply.raw.setHeader('x-powered-by', 'plugin') })
    await scope.register(fastifyWsgi, { prefix: '/raw', app: repeating })
  })
  await fastify.register(fastifyWsgi, { prefix: '/plain', app: repeating })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  for (const path of ['/raw', '/plain']) {
    const response = await request(`http://127.0.0.1:${port}${path}/`)
    await response.body.dump()
    t.same(response.headers['set-cookie'], ['a=1', 'b=2'], path)
    t.same(response.headers['x-dup'], ['one', 'two'], path)
  }
})

for (const onSendHooks of [false, true]) {
  test(`${onSendHooks ? 'onSendHooks: ' : ''}a Content-Length or Transfer-Encoding set by a hook never frames the app's body`, async (t) => {
    const { fastify } = createServer(t)
    fastify.addHook('onRequest', async (_request, reply) => {
      reply.header('content-length', '999')
      reply.header('transfer-encoding', 'gzip')
    })
    await fastify.register(fastifyWsgi, { prefix: '/app', app, onSendHooks })
    await fastify.listen({ port: 0, host: '127.0.0.1' })
    const { port } = fastify.server.address() as { port: number }
    const response = await request(`http://127.0.0.1:${port}/app/`)
    t.equal(await response.body.text(), 'body')
    t.equal(response.headers['content-length'], '4')
    t.equal(response.headers['transfer-encoding'], undefined)
  })
}

test('onRequestAbort hooks fire when the client leaves mid-response', async (t) => {
  const { fastify } = createServer(t)
  let aborted = 0
  fastify.addHook('onRequestAbort', async (_request) => { aborted++ })
  await fastify.register(fastifyWsgi, {
    input: 'buffer',
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return (async function * () {
        for (;;) {
          yield 'x'.repeat(16 * 1024)
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      })()
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  await abortAfterFirstBytes(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => aborted === 1)
  t.equal(aborted, 1)
})

test('hooks in the scope that registers a mount apply to that mount only', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(async (scope) => {
    scope.addHook('onRequest', async (_request, reply) => { reply.header('x-admin-scope', 'yes') })
    await scope.register(fastifyWsgi, { prefix: '/admin', app })
  })
  await fastify.register(fastifyWsgi, { prefix: '/public', app })
  const admin = await fastify.inject('/admin/x')
  const open = await fastify.inject('/public/x')
  t.equal(admin.headers['x-admin-scope'], 'yes')
  t.equal(open.headers['x-admin-scope'], undefined)
  t.equal(open.body, 'body')
})

test('a hook header set and removed again in a hook leaves no header, and the response is right', async (t) => {
  const { fastify } = createServer(t)
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.raw.setHeader('x-gone', 'a')
    reply.raw.removeHeader('x-gone')
    reply.header('x-gone-too', 'b')
    reply.removeHeader('x-gone-too')
  })
  await fastify.register(fastifyWsgi, { app })
  const response = await fastify.inject('/x')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-gone'], undefined)
  t.equal(response.headers['x-gone-too'], undefined)
})

for (const onSendHooks of [false, true]) {
  test(`the app's reason phrase wins over a statusMessage a hook set on reply.raw, also when it is Node's own phrase (onSendHooks: ${onSendHooks})`, async (t) => {
    const { fastify } = createServer(t)
    fastify.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/hooked/')) reply.raw.statusMessage = 'From A Plugin'
    })
    const phrase: WsgiApp = (environ, startResponse) => {
      startResponse(environ.PATH_INFO.endsWith('/custom') ? '200 Fine' : '200 OK', [['Content-Type', 'text/plain']])
      return ['ok']
    }
    await fastify.register(fastifyWsgi, { app: phrase, onSendHooks })
    t.equal((await fastify.inject('/hooked/plain')).statusMessage, 'OK')
    t.equal((await fastify.inject('/hooked/custom')).statusMessage, 'Fine')
    t.equal((await fastify.inject('/plain')).statusMessage, 'OK')
    t.equal((await fastify.inject('/custom')).statusMessage, 'Fine')
  })
}
