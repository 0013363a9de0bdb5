// An app's error never reaches the client by default (wsgiref's error_output, gunicorn and waitress
// send a fixed page; Fastify's default 500 body would carry the message): for mounts and reply.wsgi,
// over HTTP/1.1 and HTTP/2, through reply.raw and through reply.send (onSendHooks), validator errors
// included. A setErrorHandler, or a route's errorHandler, still gets the app's own error.
import { test } from 'tap'
import { request } from 'undici'
import { connect as connectHttp2 } from 'node:http2'
import type { FastifyError, FastifyRequest } from 'fastify'
import fastifyWsgi, { type StreamingWsgiApp, type WsgiApp } from '../lib/index.js'
import { createServer, type ServerOptions } from './helpers/server.js'

const SECRET = 'db password is hunter2'
const PAGE = 'A server error occurred.  Please contact the administrator.'

const throws: WsgiApp = () => { throw new Error(SECRET) }
/** Breaks the protocol with the secret as its status: the validator's message quotes it. */
const breaksProtocol: WsgiApp = (_environ, startResponse) => {
  startResponse(SECRET, [])
  return []
}

async function get (origin: string, http2: boolean): Promise<{ status: number, type: string | undefined, body: string }> {
  if (!http2) {
    const response = await request(`${origin}/app/x`)
    return { status: response.statusCode, type: response.headers['content-type'] as string | undefined, body: await response.body.text() }
  }
  const session = connectHttp2(origin)
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/app/x' })
      let status = 0
      let type: string | undefined
      let body = ''
      stream.on('response', (headers) => { status = Number(headers[':status']); type = headers['content-type'] as string | undefined })
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => { body += chunk })
      stream.on('end', () => resolve({ status, type, body }))
      stream.on('error', reject)
    })
  } finally {
    session.close()
  }
}

for (const http2 of [false, true]) {
  for (const how of ['mount', 'reply.wsgi'] as const) {
    for (const onSendHooks of [false, true]) {
      for (const [kind, app, validate] of [['a thrown error', throws, false], ['a validator error', breaksProtocol, true]] as const) {
        test(`${kind} stays private: ${how}, ${http2 ? 'HTTP/2' : 'HTTP/1.1'}${onSendHooks ? ', onSendHooks' : ''}`, async (t) => {
          const { fastify, logs } = createServer(t, { http2 } as ServerOptions)
          if (how === 'mount') {
            await fastify.register(fastifyWsgi, { prefix: '/app', app, validate, onSendHooks })
          } else {
            await fastify.register(fastifyWsgi, { validate, onSendHooks })
            fastify.get('/app/*', (_request, reply) => reply.wsgi(app, { scriptName: '/app' }))
          }
          await fastify.listen({ port: 0, host: '127.0.0.1' })
          const { port } = fastify.server.address() as { port: number }
          const response = await get(`http://127.0.0.1:${port}`, http2)
          t.equal(response.status, 500)
          t.equal(response.body, PAGE, 'wsgiref\'s fixed page')
          t.equal(response.type, 'text/plain')
          t.notMatch(response.body, 'hunter2')
          const logged = logs.filter((record) => record.level === 50)
          t.equal(logged.length, 1, 'logged once')
          t.match(logged[0]?.err?.message, 'hunter2', 'the log has the message')
        })
      }
    }
  }
}

test('setErrorHandler gets the app\'s own error and decides the answer', async (t) => {
  const { fastify } = createServer(t)
  const seen: unknown[] = []
  fastify.setErrorHandler(async (error: FastifyError, _request, reply) => {
    seen.push(error)
    return reply.code(502).send(`custom page for ${error.message}`)
  })
  const thrown = new Error(SECRET)
  await fastify.register(fastifyWsgi, { app: () => { throw thrown } })
  const response = await fastify.inject('/')
  t.equal(response.statusCode, 502)
  t.equal(response.body, `custom page for ${SECRET}`, 'exposing it is the handler\'s choice')
  t.equal(seen[0], thrown, 'the very error the app threw')
})

test('a route\'s own errorHandler gets the app\'s error on a reply.wsgi route', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  const thrown = new Error(SECRET)
  let seen: unknown
  fastify.get('/r', {
    errorHandler: (error, _request, reply) => {
      seen = error
      reply.code(500).send('route page')
    }
  }, (_request, reply) => reply.wsgi(() => { throw thrown }))
  const response = await fastify.inject('/r')
  t.equal(response.body, 'route page')
  t.equal(seen, thrown)
})

test('onSendHooks: a body that fails before Fastify wrote a byte of it stays private too', async (t) => {
  const { fastify, logs } = createServer(t)
  // An async onSend hook holds the body stream back, so the app's failure comes before Fastify pipes it.
  fastify.addHook('onSend', async (_request, _reply, payload) => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    return payload
  })
  await fastify.register(fastifyWsgi, {
    onSendHooks: true,
    app: ((_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return (async function * () {
        yield 'first'
        yield 'second'
        await new Promise((resolve) => setTimeout(resolve, 5))
        throw new Error(SECRET)
      })()
    }) as WsgiApp
  })
  const response = await fastify.inject('/')
  t.equal(response.statusCode, 500)
  t.notMatch(response.body, 'hunter2')
  t.notMatch(response.body, 'first', 'none of the failed body either')
  const logged = logs.filter((record) => record.level === 50)
  t.equal(logged.length, 1, 'logged once')
  t.match(logged[0]?.err?.code, 'FST_WSGI_APP_FAILED')
  t.match(JSON.stringify(logged[0]?.err), 'hunter2', 'the app\'s error is in the log, as the cause')
})

test('whether Fastify\'s default error page applies: the route\'s handler, else the scope\'s public getter', async (t) => {
  const { usesFastifyErrorPage } = await import('../lib/fastify/internals.js')
  const { fastify } = createServer(t)
  const seen: boolean[] = []
  fastify.get('/default', async (request) => { seen.push(usesFastifyErrorPage(request)); return 'ok' })
  fastify.get('/own', { errorHandler: (_error, _request, reply) => { reply.send('own') } }, async (request) => { seen.push(usesFastifyErrorPage(request)); return 'ok' })
  await fastify.inject('/default')
  await fastify.inject('/own')
  t.same(seen, [true, false], 'read from the route context')
  // Without Fastify's route context (a renamed symbol), the instance's getter decides.
  const bare = (errorHandler: unknown): FastifyRequest => ({ server: { errorHandler } }) as unknown as FastifyRequest
  t.equal(usesFastifyErrorPage(bare(fastify.errorHandler)), true)
  t.equal(usesFastifyErrorPage(bare(() => {})), false)
})

test('a client error of ours met while the app reads keeps its status: 413 for a body over bodyLimit', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, {
    input: 'stream',
    bodyLimit: 4,
    app: (async (environ, startResponse) => {
      await environ['wsgi.input'].read()
      startResponse('200 OK', [])
      return []
    }) as StreamingWsgiApp
  })
  const response = await fastify.inject({ method: 'POST', url: '/', payload: 'more than four bytes' })
  t.equal(response.statusCode, 413)
  t.match(response.json(), { code: 'FST_WSGI_BODY_TOO_LARGE' })
})
