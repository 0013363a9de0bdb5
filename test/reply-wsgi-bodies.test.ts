// Request bodies on reply.wsgi routes: what Fastify's parsers do to them, and the README's recipe (Mount or reply.wsgi)
// (a scope whose only parser keeps every body as a Buffer) that hands forms and JSON to the app raw.
import { test } from 'tap'
import { request } from 'undici'
import type { FastifyInstance } from 'fastify'
import fastifyWsgi, { type WsgiApp } from '../lib/index.js'
import { createServer } from './helpers/server.js'

const bounded = { timeout: 20_000 }

// Echoes what the app receives: the content type and the raw body.
const echoBody: WsgiApp = (environ, startResponse) => {
  const body = environ['wsgi.input'].read()
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return [`${environ.CONTENT_TYPE ?? '-'} ${body.toString('latin1')}`]
}

async function listen (fastify: FastifyInstance): Promise<string> {
  return await fastify.listen({ host: '127.0.0.1', port: 0 })
}

/** POSTs `body`'s characters as latin-1 bytes, so a test can send any byte. */
async function post (url: string, contentType: string | undefined, body: string): Promise<{ status: number, text: string }> {
  const headers = contentType === undefined ? {} : { 'content-type': contentType }
  const response = await request(url, { method: 'POST', headers, body: Buffer.from(body, 'latin1') })
  return { status: response.statusCode, text: await response.body.text() }
}

test('without the recipe a form posted to a reply.wsgi route is refused with 415, and a JSON body is no longer raw', bounded, async (t) => {
  const { fastify, logs } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.post('/signup', (_request, reply) => reply.wsgi(echoBody))
  const origin = await listen(fastify)
  t.equal((await post(`${origin}/signup`, 'application/x-www-form-urlencoded', 'name=Ada')).status, 415)
  const json = await post(`${origin}/signup`, 'application/json', '{"name":"Ada"}')
  t.equal(json.status, 500, 'the app failed reading wsgi.input: the fixed error page')
  t.match(logs.find((record) => record.level === 50)?.err, { code: 'FST_WSGI_BODY_UNAVAILABLE' }, 'Fastify parsed it: wsgi.input cannot be read, and the log says why')
})

test('the README recipe: in a scope whose only parser keeps the body as a Buffer, every body reaches reply.wsgi raw, up to bodyLimit', bounded, async (t) => {
  const { fastify } = createServer(t, { bodyLimit: 64 })
  await fastify.register(fastifyWsgi)
  await fastify.register(async function wsgiRoutes (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    scope.post('/signup', (_request, reply) => reply.wsgi(echoBody))
  })
  fastify.post('/api', (request) => request.body)
  const origin = await listen(fastify)
  const cases: Array<[string | undefined, string]> = [
    ['application/x-www-form-urlencoded', 'name=Ada&colour=green'],
    ['application/json', '{"name":"Ada"}'],
    ['text/plain; charset=latin1', 'caf\xe9'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'],
    [undefined, 'no content type']
  ]
  for (const [contentType, body] of cases) {
    t.same(await post(`${origin}/signup`, contentType, body), { status: 200, text: `${contentType ?? '-'} ${body}` }, contentType ?? 'no Content-Type')
  }
  t.equal((await post(`${origin}/signup`, 'application/x-www-form-urlencoded', 'x='.padEnd(65, 'a'))).status, 413, 'Fastify\'s bodyLimit applies')
  t.same(await post(`${origin}/api`, 'application/json', '{"a":1}'), { status: 200, text: '{"a":1}' }, 'routes outside the scope keep Fastify\'s JSON parser')
})
