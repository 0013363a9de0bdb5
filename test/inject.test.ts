// The testing story of docs/testing.md: fastify.inject() drives mounted apps, buffered
// and streamed, with request bodies and HEAD, in both input modes, under the validator.
import { test } from 'tap'
import Fastify from 'fastify'
import fastifyWsgi, { type StreamingWsgiApp, type WsgiApp } from '../lib/index.js'
import { form } from '../examples/form.js'

test('the docs/testing.md example: the form echoes its fields, and HEAD gets its headers only', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyWsgi, { prefix: '/form', app: form, validate: true })

  const response = await app.inject({
    method: 'POST',
    url: '/form',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=Ada'
  })
  t.equal(response.statusCode, 200)
  t.match(response.body, 'name = Ada')

  const head = await app.inject({ method: 'HEAD', url: '/form' })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
  const get = await app.inject('/form')
  t.equal(head.headers['content-length'], String(get.rawPayload.length), 'HEAD keeps the Content-Length of GET')
})

test('inject reads a streamed body whole, and an app reading its body as a stream gets the payload', async (t) => {
  const lines: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return (async function * () { for (let i = 0; i < 3; i++) yield `line ${i}\n` })()
  }
  const upload: StreamingWsgiApp = async (environ, startResponse) => {
    let size = 0
    for await (const chunk of environ['wsgi.input'].chunks()) size += chunk.length
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [`${size} bytes`]
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyWsgi, { prefix: '/lines', app: lines, validate: true })
  await app.register(fastifyWsgi, { prefix: '/upload', app: upload, input: 'stream', validate: true })
  const streamed = await app.inject('/lines')
  t.equal(streamed.body, 'line 0\nline 1\nline 2\n')
  t.equal(streamed.headers['transfer-encoding'], 'chunked')
  const uploaded = await app.inject({ method: 'PUT', url: '/upload', payload: Buffer.alloc(100000, 1) })
  t.equal(uploaded.body, '100000 bytes')
})
