// REMOTE_ADDR, REMOTE_PORT and wsgi.url_scheme are read from the connection (once per session on
// HTTP/2, where req.socket is a Proxy); Fastify's request.ip and request.protocol decide when a
// proxy's X-Forwarded-For or X-Forwarded-Proto is there. Either way they must agree with Fastify.
import { test } from 'tap'
import http2 from 'node:http2'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { request } from 'undici'
import fastifyWsgi, { type Environ, type WsgiApp } from '../lib/index.js'
import { createServer, listenWithMount, waitFor } from './helpers/server.js'

interface Seen { address: string, port: string, scheme: string, ip: string, protocol: string, socketPort: string }

const reportClient: WsgiApp = (environ, startResponse) => {
  const fastifyRequest = environ['fastify.request'] as FastifyRequest
  const seen: Seen = {
    address: environ.REMOTE_ADDR,
    port: environ.REMOTE_PORT as string,
    scheme: environ['wsgi.url_scheme'],
    ip: fastifyRequest.ip,
    protocol: fastifyRequest.protocol,
    socketPort: String(fastifyRequest.raw.socket.remotePort)
  }
  startResponse('200 OK', [['Content-Type', 'application/json']])
  return [JSON.stringify(seen)]
}

/** One GET on an HTTP/2 session; the session stays open for more. */
function h2Get (session: http2.ClientHttp2Session, headers: Record<string, string>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': '/', ...headers })
    let body = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => { body += chunk })
    stream.on('end', () => resolve(JSON.parse(body) as Seen))
    stream.on('error', reject)
    stream.end()
  })
}

const FORWARDED: Array<Record<string, string>> = [
  {},
  { 'x-forwarded-for': '203.0.113.7' },
  { 'x-forwarded-proto': 'https' },
  { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-forwarded-proto': 'https' }
]

for (const http2Server of [false, true]) {
  for (const trustProxy of [false, true]) {
    test(`${http2Server ? 'h2c' : 'HTTP/1.1'}, trustProxy ${String(trustProxy)}: REMOTE_ADDR, REMOTE_PORT and wsgi.url_scheme are Fastify's ip, the peer's port and protocol`, async (t) => {
      const { origin } = await listenWithMount(t, { app: reportClient }, { http2: http2Server, trustProxy })
      const session = http2Server ? http2.connect(origin) : null
      t.teardown(() => session?.close())
      for (const headers of FORWARDED) {
        const seen = session === null
          ? await (await request(origin + '/', { headers })).body.json() as Seen
          : await h2Get(session, headers)
        const label = JSON.stringify(headers)
        t.equal(seen.address, seen.ip, `REMOTE_ADDR is request.ip with ${label}`)
        t.equal(seen.scheme, seen.protocol, `wsgi.url_scheme is request.protocol with ${label}`)
        t.equal(seen.port, seen.socketPort, `REMOTE_PORT is the peer's port with ${label}`)
        const forwardedFor = trustProxy && 'x-forwarded-for' in headers
        // A trusted chain of proxies names the original client first.
        t.equal(seen.address, forwardedFor ? '203.0.113.7' : '127.0.0.1', `the client's address with ${label}`)
        t.equal(seen.scheme, trustProxy && 'x-forwarded-proto' in headers ? 'https' : 'http', `the scheme with ${label}`)
      }
    })
  }
}

test('h2c: each session has its own REMOTE_PORT, the one its client connected from', async (t) => {
  const { origin } = await listenWithMount(t, { app: reportClient }, { http2: true })
  const first = http2.connect(origin)
  const second = http2.connect(origin)
  t.teardown(() => { first.close(); second.close() })
  for (const session of [first, second, first, second]) {
    const seen = await h2Get(session, {})
    t.equal(seen.port, String(session.socket.localPort), 'the client side of this session\'s connection')
  }
})

test('h2c: a stream reset before the mount runs still gets an environ, with no address (its session is gone)', async (t) => {
  const { fastify } = createServer(t, { http2: true })
  let inHook: () => void = () => {}
  const hookReached = new Promise<void>((resolve) => { inHook = resolve })
  // The request waits here until its client has reset the stream.
  fastify.addHook('preHandler', async (request) => {
    const stream = (request.raw as unknown as http2.Http2ServerRequest).stream
    inHook()
    if (!stream.destroyed) await once(stream, 'close')
  })
  let seen: Environ | undefined
  const app: WsgiApp = (environ, startResponse) => {
    seen = environ
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return ['late']
  }
  await fastify.register(fastifyWsgi, { app })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const session = http2.connect(`http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`)
  t.teardown(() => session.close())
  const stream = session.request({ ':path': '/' })
  stream.on('error', () => {})
  stream.end()
  await hookReached
  stream.close(http2.constants.NGHTTP2_CANCEL)
  await waitFor(() => seen !== undefined)
  t.equal(seen?.REMOTE_ADDR, '')
  t.equal(seen?.REMOTE_PORT, '')
  t.equal(seen?.['wsgi.url_scheme'], 'http')
})
