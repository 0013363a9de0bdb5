// Real Fastify plugins in front of mounted apps: their headers and answers reach the client
// on the default reply.raw path (docs/hooks-and-plugins.md; the @fastify/express complaints #13, #20, #26).
import { test, type Test } from 'tap'
import { request } from 'undici'
import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyRateLimit from '@fastify/rate-limit'
import fastifyWsgi, { type WsgiApp } from '../lib/index.js'
import { createServer } from './helpers/server.js'

let calls = 0
const app: WsgiApp = (_environ, startResponse) => {
  calls++
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-Frame-Options', 'DENY']])
  return ['from the app']
}

async function listen (t: Test, register: (fastify: ReturnType<typeof createServer>['fastify']) => Promise<void>): Promise<string> {
  const { fastify } = createServer(t)
  await register(fastify)
  await fastify.register(fastifyWsgi, { prefix: '/legacy', app, validate: true })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  return `http://127.0.0.1:${port}/legacy/page`
}

test('@fastify/cors: the preflight is answered by the plugin, the actual response carries its headers', async (t) => {
  const url = await listen(t, async (fastify) => { await fastify.register(fastifyCors, { origin: 'https://app.example', credentials: true }) })
  const before = calls
  const preflight = await request(url, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' }
  })
  await preflight.body.dump()
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')
  t.equal(calls, before, 'the app does not see the preflight')
  const actual = await request(url, { headers: { origin: 'https://app.example' } })
  t.equal(await actual.body.text(), 'from the app')
  t.equal(actual.headers['access-control-allow-origin'], 'https://app.example')
  t.equal(actual.headers['access-control-allow-credentials'], 'true')
})

test('@fastify/helmet: its headers (set on reply.raw) reach the client; the app wins where it set its own', async (t) => {
  const url = await listen(t, async (fastify) => { await fastify.register(fastifyHelmet) })
  const response = await request(url)
  t.equal(await response.body.text(), 'from the app')
  t.match(response.headers['content-security-policy'], /default-src 'self'/)
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  t.equal(response.headers['x-frame-options'], 'DENY', "the app's, not helmet's SAMEORIGIN")
  t.equal(response.headers['x-dns-prefetch-control'], 'off')
})

test('@fastify/rate-limit: its counters reach the client, and over the limit it answers 429 without running the app', async (t) => {
  const url = await listen(t, async (fastify) => { await fastify.register(fastifyRateLimit, { max: 2, timeWindow: 60000 }) })
  const first = await request(url)
  await first.body.dump()
  t.equal(first.headers['x-ratelimit-limit'], '2')
  t.equal(first.headers['x-ratelimit-remaining'], '1')
  await (await request(url)).body.dump()
  const before = calls
  const limited = await request(url)
  t.equal(limited.statusCode, 429)
  t.match(await limited.body.text(), /Rate limit exceeded/)
  t.equal(calls, before, 'the app did not run')
})
