// What the client and the log see when an app misbehaves (docs/conformance.md A1-A4, C2-C6, D1-D2), over
// real sockets: a clean 500 before any byte, an incomplete response after, and a server that goes on.
import { test } from 'tap'
import { request } from 'undici'
import type { Body, Environ, ResponseHeader, StartResponse, WsgiApp } from '../lib/index.js'
import { abortAfterFirstBytes, createServer, listenWithMount, parseHead, rawExchange, waitFor, type LogRecord } from './helpers/server.js'
import fastifyWsgi, { Headers } from '../lib/index.js'

function errorLog (logs: LogRecord[]): LogRecord | undefined {
  return logs.find((record) => record.level === 50)
}

const failures: Array<[string, WsgiApp, string]> = [
  ['a sync throw before startResponse', () => { throw new Error('sync failure') }, 'sync failure'],
  ['a rejected Promise', async () => { throw new Error('async failure') }, 'async failure'],
  ['a generator throwing before its first chunk', function * (_environ: Environ, startResponse: StartResponse) {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    throw new Error('generator failure')
  } as unknown as WsgiApp, 'generator failure'],
  ['an invalid status', (_environ, startResponse) => { startResponse('2000K', []); return [] }, 'Invalid status "2000K"'],
  ['a status with CR/LF', (_environ, startResponse) => { startResponse('200 OK\r\nX: y', []); return [] }, 'response splitting'],
  ['a hop-by-hop header', (_environ, startResponse) => { startResponse('200 OK', [['Connection', 'close']]); return [] }, 'Hop-by-hop header "Connection: close" not allowed'],
  ['a non-string header value', (_environ, startResponse) => { startResponse('200 OK', [['X-N', 1 as unknown as string]]); return [] }, 'header names and values must be strings'],
  ['a second startResponse', (_environ, startResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]); startResponse('200 OK', [['Content-Type', 'text/plain']]); return [] }, 'Headers already set!'],
  ['write() before startResponse', () => ['early'], 'write() before start_response()'],
  ['a chunk of the wrong type', (_environ, startResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]); return [1, 2] as unknown as Body }, 'got number 1'],
  ['a string body', (_environ, startResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]); return 'text' as unknown as Body }, 'got a string "text": return a list of chunks, such as [body]'],
  ['a Buffer body', (_environ, startResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]); return Buffer.from('bytes') as unknown as Body }, 'got a Buffer of 5 bytes: return a list of chunks, such as [body]'],
  ['no body', ((_environ: Environ, startResponse: StartResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]) }) as unknown as WsgiApp, 'got undefined: did the app forget to return its body? An empty body is []'],
  ['a Headers object as the header list', (_environ, startResponse) => {
    startResponse('200 OK', new Headers([['Content-Type', 'text/plain']]) as unknown as ResponseHeader[]); return []
  }, 'Invalid header list object Headers: headers must be an array of [name, value] pairs; for a Headers object, pass headers.list'],
  // eslint-disable-next-line no-throw-literal
  ['a thrown string', () => { throw 'just a string' }, 'The app threw a non-Error value: "just a string"']
]

for (const [name, app, message] of failures) {
  test(`A3: ${name} gives a 500 without details, logged at error level with the request id`, async (t) => {
    // The app breaks the protocol on purpose: the server's own checks must catch it, not the validator.
    const { origin, logs } = await listenWithMount(t, { app, validate: false })
    const response = await request(origin + '/x')
    t.equal(response.statusCode, 500)
    const body = await response.body.text()
    t.equal(body, 'A server error occurred.  Please contact the administrator.', 'wsgiref\'s fixed page: nothing of the error reaches the client')
    t.equal(response.headers['content-type'], 'text/plain')
    const record = errorLog(logs)
    t.match(record?.err?.message, message)
    t.match(record?.err?.stack, /\n\s+at /, 'the log has the stack')
    t.equal(typeof record?.reqId, 'string')
    const again = await request(origin + '/x')
    t.equal(again.statusCode, 500, 'the server keeps serving')
    await again.body.dump()
  })
}

test('A3: setErrorHandler decides the error response', async (t) => {
  const { fastify } = createServer(t)
  fastify.setErrorHandler(async (error: Error, _request, reply) => reply.code(503).send({ handled: error.message }))
  await fastify.register(fastifyWsgi, { app: () => { throw new Error('to the handler') } })
  const response = await fastify.inject('/')
  t.equal(response.statusCode, 503)
  t.same(response.json(), { handled: 'to the handler' })
})

test('A4: an error handler that throws still gives the client a 500', async (t) => {
  const { fastify } = createServer(t)
  fastify.setErrorHandler(() => { throw new Error('handler broke') })
  await fastify.register(fastifyWsgi, { app: () => { throw new Error('app broke') } })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const response = await request(`http://127.0.0.1:${port}/`)
  t.equal(response.statusCode, 500)
  await response.body.dump()
})

test('A3: an error after the first chunk: the client sees a chunked body without its end, and the log says so', async (t) => {
  let closes = 0
  const { port, logs } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return Object.assign((function * () {
        yield 'partial'
        throw new Error('late failure')
      })(), { close: () => { closes++ } })
    }
  })
  const { text, closedByServer } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  const { statusLine, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(body, '7\r\npartial\r\n', 'no terminating 0-length chunk')
  t.ok(closedByServer)
  t.equal(closes, 1)
  t.match(errorLog(logs)?.msg, 'after the response started')
  t.match(errorLog(logs)?.err?.message, 'late failure')
})

test('A3: undici reports such a response as failed, never as a complete one', async (t) => {
  const { origin } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '100']])
      return (function * () { yield 'only part'; throw new Error('boom') })()
    }
  })
  const response = await request(origin)
  await t.rejects(response.body.text())
})

test('C6: startResponse with excInfo before any byte replaces the response', async (t) => {
  const { origin } = await listenWithMount(t, {
    app: (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-First', 'yes']])
      try {
        throw new Error('backend down')
      } catch (err) {
        startResponse('503 Service Unavailable', [['Content-Type', 'text/plain'], ['Retry-After', '5']], err)
        return ['try later']
      }
    }
  })
  const response = await request(origin)
  t.equal(response.statusCode, 503)
  t.equal(response.headers['retry-after'], '5')
  t.equal(response.headers['x-first'], undefined)
  t.equal(await response.body.text(), 'try later')
})

test('C6: startResponse with excInfo after bytes were sent re-throws, and the response ends incomplete', async (t) => {
  const { port, logs } = await listenWithMount(t, {
    app: function * (_environ: Environ, startResponse: StartResponse) {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      yield 'sent'
      startResponse('500 Oops', [['Content-Type', 'text/plain']], new Error('too late to replace'))
    } as unknown as WsgiApp
  })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(parseHead(text).body, '4\r\nsent\r\n')
  t.match(errorLog(logs)?.err?.message, 'too late to replace')
})

for (const onSendHooks of [false, true]) {
  test(`${onSendHooks ? 'onSendHooks: ' : ''}A2: a client that disconnects mid-body: the generator gets return(), close() runs once, no error log`, async (t) => {
    let finallyRan = false
    let closes = 0
    const { port, origin, logs } = await listenWithMount(t, {
      onSendHooks,
      input: 'buffer',
      app: (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'text/plain']])
        return Object.assign((async function * () {
          try {
            for (let i = 0; i < 1000; i++) {
              yield `line ${i}\n`
              await new Promise((resolve) => setTimeout(resolve, 2))
            }
          } finally {
            finallyRan = true
          }
        })(), { close: () => { closes++ } })
      }
    })
    await abortAfterFirstBytes(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await waitFor(() => closes > 0, 2000)
    t.ok(finallyRan)
    t.equal(closes, 1)
    t.notOk(logs.some((record) => record.level >= 50))
    t.ok(logs.some((record) => record.level === 20 && /went away/.test(record.msg)), 'logged at debug level')
    const next = await request(origin)
    t.equal(next.statusCode, 200)
    await next.body.dump()
  })
}

// ---------------------------------------------------------------------------------------------
// Error reporting: each failure is logged once, under the id of the request that failed, with
// its code and stack; the client never sees the stack. Request ids come from X-Request-Id here,
// so each record can be matched with the request that caused it.

const withRequestIds = { requestIdHeader: 'x-request-id' }

function errorsOf (logs: LogRecord[], reqId: string): LogRecord[] {
  return logs.filter((record) => record.level === 50 && record.reqId === reqId)
}

test('A3: concurrent failures are each logged once under their own request id, with the error\'s code and stack', async (t) => {
  const { origin, logs } = await listenWithMount(t, {
    validate: false,
    app: (environ, startResponse) => {
      switch (environ.PATH_INFO) {
        case '/backend': throw Object.assign(new Error('backend refused'), { code: 'ECONNREFUSED' })
        case '/status': startResponse('2000K', []); return []
        case '/late':
          startResponse('200 OK', [['Content-Type', 'text/plain']])
          return (function * () { yield 'partial'; throw Object.assign(new Error('late failure'), { code: 'E_LATE' }) })()
        default:
          startResponse('200 OK', [['Content-Type', 'text/plain']])
          return ['fine']
      }
    }
  }, withRequestIds)
  const cases = [['backend', 'ECONNREFUSED', 'backend refused'], ['status', 'FST_WSGI_INVALID_STATUS', 'Invalid status "2000K"'],
    ['late', 'E_LATE', 'late failure'], ['ok', undefined, undefined]]
  const bodies = await Promise.all(cases.flatMap(([path]) => [1, 2].map(async (n) => {
    const response = await request(`${origin}/${path}`, { headers: { 'x-request-id': `${path}-${n}` } })
    return await response.body.text().catch(() => 'incomplete')
  })))
  for (const body of bodies) {
    t.notMatch(body, /\n\s+at |error-responses\.test/, 'no stack trace or source path reaches the client')
  }
  await waitFor(() => logs.filter((record) => record.level === 50).length >= 6)
  for (const [path, code, message] of cases) {
    for (const n of [1, 2]) {
      const reqId = `${path}-${n}`
      const records = errorsOf(logs, reqId)
      if (code === undefined) {
        t.same(records, [], `${reqId}: nothing logged at error level`)
        continue
      }
      t.equal(records.length, 1, `${reqId}: logged once`)
      t.equal(records[0]?.err?.code, code, `${reqId}: the error's code`)
      t.match(records[0]?.err?.message, message as string)
      t.match(records[0]?.err?.stack, /\n\s+at /, `${reqId}: the stack`)
    }
  }
})

// As in Fastify, a custom error handler owns the logging of the errors it gets: when it fails,
// its own error is what Fastify's fallback handler logs.
test('A4: an async error handler that rejects still gives a 500 without details; its error is logged under the request id', async (t) => {
  const { fastify, logs } = createServer(t, withRequestIds)
  fastify.setErrorHandler(async () => { throw new Error('the handler failed too') })
  await fastify.register(fastifyWsgi, { app: () => { throw new Error('app broke') } })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const response = await request(`http://127.0.0.1:${port}/`, { headers: { 'x-request-id': 'handler-fails' } })
  t.equal(response.statusCode, 500)
  const body = await response.body.text()
  t.notMatch(body, /\n\s+at /)
  t.notMatch(body, /app broke/, 'the app\'s error is not shown')
  await waitFor(() => errorsOf(logs, 'handler-fails').length >= 1)
  const messages = logs.filter((record) => record.level >= 50 && record.reqId === 'handler-fails').map((record) => record.err?.message)
  t.ok(messages.includes('the handler failed too'), 'the error handler\'s own error is logged')
  const next = await request(`http://127.0.0.1:${port}/`)
  t.equal(next.statusCode, 500, 'the server keeps serving')
  await next.body.dump()
})

test('G1: wsgi.errors text written before the app fails is logged under the request id, before the error', async (t) => {
  const { origin, logs } = await listenWithMount(t, {
    validate: false,
    app: (environ) => {
      environ['wsgi.errors'].write('complete line\npartial line')
      throw new Error('failed after writing to wsgi.errors')
    }
  }, withRequestIds)
  const response = await request(origin, { headers: { 'x-request-id': 'errors-then-fail' } })
  t.equal(response.statusCode, 500)
  await response.body.dump()
  await waitFor(() => errorsOf(logs, 'errors-then-fail').length >= 3)
  t.same(errorsOf(logs, 'errors-then-fail').map((record) => record.err?.message ?? record.msg),
    ['complete line', 'partial line', 'failed after writing to wsgi.errors'], 'the partial line is flushed before the error is logged')
})
