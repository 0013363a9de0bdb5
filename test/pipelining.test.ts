// Pipelined requests on one HTTP/1.1 connection (RFC 9112 §9.3.2): their apps run in request
// order, whatever each waits for, and each response goes out in order, framed on its own.
import { test } from 'tap'
import fastifyWsgi, { type StreamingWsgiApp, type WsgiApp } from '../lib/index.js'
import { createServer, listenWithMount, rawExchange } from './helpers/server.js'
import { sleep } from './fixtures/apps.js'

const bounded = { timeout: 10000 }

/** Records the order in which the app runs, and answers with the path and the body it read. */
function recorder (calls: string[]): WsgiApp {
  return (environ, startResponse) => {
    calls.push(`${environ.REQUEST_METHOD} ${environ.PATH_INFO}`)
    const body = environ['wsgi.input'].read()
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [`${environ.PATH_INFO}:${String(body)}`]
  }
}

test('a GET pipelined behind a POST whose body is still being read runs after the POST', bounded, async (t) => {
  const calls: string[] = []
  const { port } = await listenWithMount(t, { app: recorder(calls) })
  const { text } = await rawExchange(port,
    'POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
    'GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(calls, ['POST /first', 'GET /second'], 'the apps ran in request order')
  t.match(text, /\/first:hello[\s\S]*\/second:$/, 'and answered in order')
})

test('three pipelined requests, two of them waiting for their bodies, run in request order', bounded, async (t) => {
  const calls: string[] = []
  const { port } = await listenWithMount(t, { app: recorder(calls) })
  const chunked = (path: string, body: string): string =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
  const { text } = await rawExchange(port, chunked('/1', 'one') + chunked('/2', 'two') + 'GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(calls, ['POST /1', 'POST /2', 'GET /3'])
  t.match(text, /\/1:one[\s\S]*\/2:two[\s\S]*\/3:$/)
})

test('a request refused while it waits its turn closes the connection: no request after it runs', bounded, async (t) => {
  const calls: string[] = []
  const { port } = await listenWithMount(t, { bodyLimit: 4, app: recorder(calls) })
  const { text } = await rawExchange(port,
    'POST /1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n' +
    'POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nlarge\r\n0\r\n\r\n' +
    'GET /3 HTTP/1.1\r\nHost: x\r\n\r\n')
  t.same(calls, ['POST /1'], 'neither the refused request nor the one after it ran (RFC 9112 §9.6)')
  // The 413 came while the chunked body was still being parsed: the connection closes after it, so /3's answer never goes out.
  t.match(text, /\/1:one[\s\S]*HTTP\/1\.1 413 [\s\S]*connection: close[\s\S]*FST_WSGI_BODY_TOO_LARGE[^]*$/)
})

test('a request pipelined behind a 413 for a declared body too large to drain never runs', bounded, async (t) => {
  const calls: string[] = []
  const { port } = await listenWithMount(t, { bodyLimit: 4, app: recorder(calls) })
  const { text, closedByServer } = await rawExchange(port,
    `POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n${'x'.repeat(70000)}GET /after HTTP/1.1\r\nHost: x\r\n\r\n`)
  t.same(calls, [], 'the GET after the refused upload is not processed (RFC 9112 §9.6)')
  t.match(text, /^HTTP\/1\.1 413 [\s\S]*connection: close[\s\S]*FST_WSGI_BODY_TOO_LARGE[^]*$/)
  t.notMatch(text, /HTTP\/1\.1 200/, 'and nothing is answered for it')
  t.ok(closedByServer)
})

test('a streaming app pipelined behind a buffered one waiting for its body starts after it', bounded, async (t) => {
  const calls: string[] = []
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { prefix: '/buffered', app: recorder(calls) })
  const streaming: StreamingWsgiApp = async (environ, startResponse) => {
    calls.push(`${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}`)
    const body = await environ['wsgi.input'].read()
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [`streamed:${String(body)}`]
  }
  await fastify.register(fastifyWsgi, { prefix: '/streaming', input: 'stream', app: streaming })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const { text } = await rawExchange(port,
    'POST /buffered/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n' +
    'POST /streaming/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo')
  t.same(calls, ['POST /', 'POST /streaming'])
  t.match(text, /\/:one[\s\S]*streamed:two$/)
})

test('a body cut at its Content-Length in a response queued behind a pipelined one closes the connection after it', bounded, async (t) => {
  const app: WsgiApp = (environ, startResponse) => {
    if (environ.PATH_INFO === '/cut') {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '3']])
      return ['abcdef']
    }
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    // /slow answers after the others ran, so theirs wait behind it.
    return (async function * () { await sleep(50); yield `done ${environ.PATH_INFO}` })()
  }
  const { port } = await listenWithMount(t, { app, validate: false })
  const { text, closedByServer } = await rawExchange(port,
    'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /cut HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n', 1000)
  t.match(text, /done \/slow[\s\S]*\r\n\r\nabc$/, 'the first response, then the cut one, its declared bytes only')
  t.ok(closedByServer, 'and the connection closed after it: the client cannot mistake what follows for a response')
})
