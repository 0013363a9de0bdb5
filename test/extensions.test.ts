// fastify-wsgi's environ extensions: fastify.signal (option signal: true) and fastify.earlyHints (docs/environ.md).
import { test } from 'tap'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import fastifyWsgi, { type WsgiApp } from '../lib/index.js'
import { listenWithMount, rawExchange, waitFor } from './helpers/server.js'

test('fastify.signal aborts within one chunk when the client goes away mid-response', async (t) => {
  let aborted = false
  let chunksAfterAbort = -1
  let closes = 0
  const { port, logs } = await listenWithMount(t, {
    signal: true,
    app: (environ, startResponse) => {
      const signal = environ['fastify.signal'] as AbortSignal
      signal.addEventListener('abort', () => { aborted = true })
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign((async function * () {
        for (let i = 0; i < 200; i++) {
          if (signal.aborted) {
            chunksAfterAbort = 0
            return
          }
          yield `chunk ${i}\n`
          await sleep(5)
        }
      })(), { close: () => { closes++ } })
    }
  })
  const socket = connect({ port, host: '127.0.0.1' })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((resolve) => socket.once('data', resolve))
  socket.destroy()
  await waitFor(() => closes === 1)
  t.ok(aborted, 'the signal fired')
  t.equal(closes, 1, 'the body was closed once')
  t.notOk(logs.some((record) => record.level >= 50), 'a disconnect is not an error')
  t.ok(chunksAfterAbort === 0 || closes === 1)
})

test('fastify.signal stays quiet for a response that completes, and is the same object on every read', async (t) => {
  let signal: AbortSignal | undefined
  let same = false
  const { port } = await listenWithMount(t, {
    signal: true,
    app: (environ, startResponse) => {
      signal = environ['fastify.signal']
      same = signal === environ['fastify.signal']
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return ['done']
    }
  })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(text, /done$/)
  await sleep(20)
  t.ok(same)
  t.equal(signal?.aborted, false)
})

test('fastify.signal read after the client left is already aborted', async (t) => {
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let abortedAtRead: boolean | undefined
  const { port } = await listenWithMount(t, {
    signal: true,
    app: async (environ, startResponse) => {
      await released
      abortedAtRead = environ['fastify.signal']?.aborted
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return []
    }
  })
  const socket = connect({ port, host: '127.0.0.1' })
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await sleep(30)
  socket.destroy()
  await sleep(30)
  release()
  await waitFor(() => abortedAtRead !== undefined)
  t.equal(abortedAtRead, true)
})

test('without the signal option the environ has no fastify.signal, and Fastify\'s request.signal is there', async (t) => {
  let keys: string[] = []
  let requestSignal: unknown
  const { port } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      keys = Object.keys(environ)
      requestSignal = environ['fastify.request']?.signal
      startResponse('200 OK', [])
      return []
    }
  })
  await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.notOk(keys.includes('fastify.signal'))
  t.ok(keys.includes('fastify.earlyHints'))
  t.ok(requestSignal instanceof AbortSignal)
})

test('reply.wsgi takes the signal option per call', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyWsgi)
  const seen: boolean[] = []
  const probe: WsgiApp = (environ, startResponse) => {
    seen.push(environ['fastify.signal'] instanceof AbortSignal)
    startResponse('200 OK', [])
    return []
  }
  app.get('/with', (_request, reply) => reply.wsgi(probe, { signal: true }))
  app.get('/without', (_request, reply) => reply.wsgi(probe))
  await app.inject('/with')
  await app.inject('/without')
  t.same(seen, [true, false])
})

const hinting: WsgiApp = (environ, startResponse) => {
  environ['fastify.earlyHints']?.([['Link', '</style.css>; rel=preload; as=style'], ['Link', '</app.js>; rel=preload; as=script']])
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return ['page']
}

test('fastify.earlyHints sends 103 Early Hints before the response', async (t) => {
  const { port } = await listenWithMount(t, { app: hinting })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(text, /^HTTP\/1.1 103 Early Hints\r\nLink: <\/style.css>; rel=preload; as=style, <\/app.js>; rel=preload; as=script\r\n\r\nHTTP\/1.1 200 OK\r\n/)
  t.match(text, /page$/)
})

test('fastify.earlyHints sends nothing to an HTTP/1.0 client (RFC 9110 forbids 1xx there)', async (t) => {
  const { port } = await listenWithMount(t, { app: hinting })
  const { text } = await rawExchange(port, 'GET / HTTP/1.0\r\n\r\n')
  t.match(text, /^HTTP\/1.1 200 OK\r\n/, 'no 103 first (Node answers 1.0 clients with a 1.1 status line)')
})

test('every environ shares one fastify.earlyHints and one frozen wsgi.version; earlyHints called off the environ says how to call it', async (t) => {
  const environs: Array<Parameters<WsgiApp>[0]> = []
  let detachedError: { code?: string, message: string } | undefined
  const { port } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      environs.push(environ)
      const hints = environ['fastify.earlyHints'] as (headers: Array<[string, string]>) => void
      try {
        hints([['Link', '</x.css>; rel=preload']])
      } catch (err) {
        detachedError = err as Error
      }
      startResponse('200 OK', [])
      return []
    }
  })
  await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(environs.length, 2)
  t.equal(environs[0]['fastify.earlyHints'], environs[1]['fastify.earlyHints'])
  t.equal(environs[0]['wsgi.version'], environs[1]['wsgi.version'])
  t.same(environs[0]['wsgi.version'], [1, 0])
  t.ok(Object.isFrozen(environs[0]['wsgi.version']))
  t.equal(detachedError?.code, 'FST_WSGI_EARLY_HINTS')
  t.match(detachedError?.message, "call it on the environ, as environ['fastify.earlyHints'](headers)")
})

test('fastify.earlyHints refuses a list without Link, invalid headers, and a started response', async (t) => {
  const errors: Array<{ code?: string, message: string }> = []
  const attempt = (environ: Parameters<WsgiApp>[0], headers: Array<[string, string]>): void => {
    try {
      environ['fastify.earlyHints']?.(headers)
    } catch (err) {
      errors.push(err as Error)
    }
  }
  const { port } = await listenWithMount(t, {
    app: function * (environ: Parameters<WsgiApp>[0], startResponse: Parameters<WsgiApp>[1]) {
      attempt(environ, [['X-Only', 'x']])
      attempt(environ, [['Link', 'a\r\nb']])
      attempt(environ, [['Connection', 'close'], ['Link', '</x>']])
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      yield 'first'
      attempt(environ, [['Link', '</late>']])
      yield ' second'
    } as unknown as WsgiApp
  })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.notMatch(text, /103/)
  t.same(errors.map((err) => err.code), ['FST_WSGI_EARLY_HINTS', 'FST_WSGI_INVALID_HEADER', 'FST_WSGI_HOP_BY_HOP_HEADER', 'FST_WSGI_EARLY_HINTS'])
  t.match(errors[0].message, 'a Link header is required')
  t.match(errors[3].message, 'the response has already started')
})
