// The same apps over HTTP/2 (h2c) and HTTPS, with node:http2 and undici clients.
import { test } from 'tap'
import http2 from 'node:http2'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import type { Environ, StartResponse, WsgiApp } from '../lib/index.js'
import fastifyWsgi from '../lib/index.js'
import { createServer, listenWithMount, waitFor } from './helpers/server.js'

interface H2Response { status: number, headers: http2.IncomingHttpHeaders, informational: number[], body: string, error?: string }

function h2Get (origin: string, path: string, options: http2.SecureClientSessionOptions = {}): Promise<H2Response> {
  return new Promise((resolve) => {
    const client = http2.connect(origin, options)
    const result: H2Response = { status: 0, headers: {}, informational: [], body: '' }
    const stream = client.request({ ':path': path })
    stream.on('headers', (headers) => result.informational.push(Number(headers[':status'])))
    stream.on('response', (headers) => { result.status = Number(headers[':status']); result.headers = headers })
    stream.on('data', (chunk) => { result.body += String(chunk) })
    const finish = (): void => { client.close(); resolve(result) }
    stream.on('end', finish)
    stream.on('error', (err: NodeJS.ErrnoException) => { result.error = err.code; finish() })
    stream.end()
  })
}

const describe: WsgiApp = function * (environ: Environ, startResponse: StartResponse) {
  environ['fastify.earlyHints']?.([['Link', '</style.css>; rel=preload']])
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  yield `${environ.SERVER_PROTOCOL} `
  yield `${environ['wsgi.url_scheme']} ${String(environ.HTTP_HOST)} ${environ.PATH_INFO}`
} as unknown as WsgiApp

for (const onSendHooks of [false, true]) {
  test(`${onSendHooks ? 'onSendHooks: ' : ''}h2c: SERVER_PROTOCOL is HTTP/2.0, the body streams, no connection-specific header, 103 Early Hints arrive`, async (t) => {
    const { origin } = await listenWithMount(t, { prefix: '/app', app: describe, onSendHooks }, { http2: true })
    const response = await h2Get(origin, '/app/x')
    t.equal(response.status, 200)
    t.match(response.body, /^HTTP\/2\.0 http 127\.0\.0\.1:\d+ \/x$/)
    t.same(response.informational, [103])
    for (const name of ['connection', 'keep-alive', 'transfer-encoding']) t.equal(response.headers[name], undefined, name)
  })
}

test('h2c: streams of one session are not ordered: a POST whose body is complete runs before an earlier one still sending', async (t) => {
  const calls: string[] = []
  const app: WsgiApp = (environ, startResponse) => {
    calls.push(environ.PATH_INFO)
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [`${environ.PATH_INFO}:${String(environ['wsgi.input'].read())}`]
  }
  const { origin } = await listenWithMount(t, { app }, { http2: true })
  const client = http2.connect(origin)
  t.teardown(() => client.close())
  const post = (path: string): { stream: http2.ClientHttp2Stream, body: Promise<string> } => {
    // Neither Content-Type nor Content-Length: HTTP/2 frames the body itself, and Fastify takes such a request for bodiless.
    const stream = client.request({ ':method': 'POST', ':path': path })
    const body = new Promise<string>((resolve) => {
      let text = ''
      stream.on('data', (chunk) => { text += String(chunk) })
      stream.on('end', () => resolve(text))
    })
    return { stream, body }
  }
  const slow = post('/slow')
  slow.stream.write('part one, ')
  const quick = post('/quick')
  quick.stream.end('all at once')
  t.equal(await quick.body, '/quick:all at once')
  t.same(calls, ['/quick'], 'the later stream did not wait for the earlier one')
  slow.stream.end('part two')
  t.equal(await slow.body, '/slow:part one, part two')
  t.same(calls, ['/quick', '/slow'])
})

test('h2c: repeated headers in any case, a hook\'s header and a header named __proto__ all arrive', async (t) => {
  const { fastify } = createServer(t, { http2: true })
  fastify.addHook('onRequest', async (request, reply) => { if (request.url === '/hooked') reply.header('x-hook', 'from-hook') })
  await fastify.register(fastifyWsgi, {
    // wsgiref.validate wants names that start with a letter; HTTP (and startResponse) allow __proto__.
    validate: false,
    app: (_environ: Environ, startResponse: StartResponse) => {
      startResponse('200 OK', [['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['X-Many', 'x'], ['x-many', 'y'], ['__proto__', 'kept'], ['Content-Type', 'text/plain']])
      return ['ok']
    }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const plain = await h2Get(origin, '/')
  t.equal(plain.status, 200, plain.body)
  t.same(plain.headers['set-cookie'], ['a=1', 'b=2'])
  t.equal(plain.headers['x-many'], 'x, y')
  const response = await h2Get(origin, '/hooked')
  t.equal(response.status, 200)
  t.same(response.headers['set-cookie'], ['a=1', 'b=2'])
  t.equal(response.headers['x-many'], 'x, y')
  t.equal(Object.getOwnPropertyDescriptor(response.headers, '__proto__')?.value, 'kept', 'a header named __proto__ is a header')
  t.equal(response.headers['x-hook'], 'from-hook')
  t.equal(response.body, 'ok')
})

test('h2c: an error after the first chunk resets the stream: the client never sees a clean end', async (t) => {
  const { origin, logs } = await listenWithMount(t, {
    app: function * (_environ: Environ, startResponse: StartResponse) {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      yield 'partial'
      throw new Error('late')
    } as unknown as WsgiApp
  }, { http2: true })
  const response = await h2Get(origin, '/')
  t.equal(response.error, 'ERR_HTTP2_STREAM_ERROR')
  t.ok(logs.some((record) => record.level === 50 && /after the response started/.test(record.msg)))
})

test('h2c: a cancelled stream stops the body and closes it once, quietly', async (t) => {
  let closes = 0
  const { origin, logs } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign((async function * () {
        for (let i = 0; i < 1000; i++) {
          yield `line ${i}\n`
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
      })(), { close: () => { closes++ } })
    }
  }, { http2: true })
  const client = http2.connect(origin)
  t.teardown(() => client.close())
  const stream = client.request({ ':path': '/' })
  await new Promise((resolve) => stream.once('data', resolve))
  stream.close(http2.constants.NGHTTP2_CANCEL)
  await waitFor(() => closes > 0, 2000)
  t.equal(closes, 1)
  t.notOk(logs.some((record) => record.level >= 50))
})

test('HTTPS (HTTP/1.1) and HTTP/2 over TLS: wsgi.url_scheme is https', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-wsgi-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
  const key = readFileSync(join(dir, 'key.pem'))
  const cert = readFileSync(join(dir, 'cert.pem'))

  const tls1 = await listenWithMount(t, { prefix: '/app', app: describe }, { https: { key, cert } })
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } })
  t.teardown(() => dispatcher.close())
  const response = await request(tls1.origin.replace('http:', 'https:') + '/app/y', { dispatcher })
  t.match(await response.body.text(), /^HTTP\/1\.1 https /)

  const tls2 = await listenWithMount(t, { prefix: '/app', app: describe }, { http2: true, https: { key, cert, allowHTTP1: true } })
  const h2 = await h2Get(tls2.origin.replace('http:', 'https:'), '/app/z', { rejectUnauthorized: false })
  t.match(h2.body, /^HTTP\/2\.0 https /)
  const fallback = await request(tls2.origin.replace('http:', 'https:') + '/app/w', { dispatcher })
  t.match(await fallback.body.text(), /^HTTP\/1\.1 https /, 'allowHTTP1 clients still served')
})
