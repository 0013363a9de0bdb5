// wsgi.input in the default `input: 'buffer'` mode (docs/conformance.md F1) and wsgi.errors (G1), over
// real sockets: undici for ordinary requests, raw `net` writes where framing matters.
import { test } from 'tap'
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { request } from 'undici'
import fastifyWsgi, { type WsgiApp, type WsgiErrors, type WsgiInput } from '../lib/index.js'
import { createServer, listenWithMount, parseHead, rawExchange, waitFor, type LogRecord } from './helpers/server.js'

/** Every test ends in bounded time, whatever the server does. */
const bounded = { timeout: 10000 }

/** An app that runs `read` over wsgi.input and answers with what it returns, as JSON. */
function reader (read: (input: WsgiInput) => unknown, calls = { count: 0 }): WsgiApp {
  return (environ, startResponse) => {
    calls.count++
    const result = read(environ['wsgi.input'])
    startResponse('200 OK', [['Content-Type', 'application/json']])
    return [JSON.stringify(result)]
  }
}

/** An app that answers with the raw body it read, its CONTENT_TYPE and its CONTENT_LENGTH. */
const echoBody: WsgiApp = (environ, startResponse) => {
  const body = environ['wsgi.input'].read()
  startResponse('200 OK', [
    ['Content-Type', 'application/octet-stream'],
    ['X-Content-Type', String(environ.CONTENT_TYPE)],
    ['X-Content-Length', String(environ.CONTENT_LENGTH)]
  ])
  return [body]
}

/** POSTs `body` and returns what the app read. */
async function post (origin: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await request(origin, { method: 'POST', body, headers })
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}: ${await response.body.text()}`)
  return await response.body.json()
}

/** Sends a request in pieces, pausing between them, and resolves with the whole response (latin-1). */
async function sendInPieces (port: number, pieces: string[], pauseMs = 20): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' })
  const received: Buffer[] = []
  socket.on('data', (chunk) => received.push(chunk))
  const closed = new Promise((resolve) => socket.on('close', resolve))
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  for (const piece of pieces) {
    if (socket.destroyed) break
    socket.write(piece)
    await sleep(pauseMs)
  }
  await Promise.race([closed, sleep(1000)])
  socket.destroy()
  return Buffer.concat(received).toString('latin1')
}

// ---------------------------------------------------------------------------------------------
// F1: the file-like API over a buffered body

test('F1: read() returns the whole body', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { app: reader((input) => String(input.read())) })
  t.equal(await post(origin, 'line one\nline two'), 'line one\nline two')
})

test('F1: read(size) returns at most size bytes, in order', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [String(input.read(3)), String(input.read(0)), String(input.read(4)), String(input.read(100))])
  })
  t.same(await post(origin, 'abcdefghij'), ['abc', '', 'defg', 'hij'])
})

test('F1: read(-1) and read(null) read to the end', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [String(input.read(2)), String(input.read(-1)), String(input.read(null))])
  })
  t.same(await post(origin, 'abcdef'), ['ab', 'cdef', ''])
})

test('F1: read past the end returns an empty buffer, every time', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => {
      const all = input.read()
      const after = [input.read(), input.read(5), input.readline(), input.readlines()]
      return [String(all), after.map((value) => Array.isArray(value) ? value.length : Buffer.isBuffer(value) ? value.length : -1)]
    })
  })
  t.same(await post(origin, 'xyz'), ['xyz', [0, 0, 0, 0]])
})

test('F1: readline() returns each line with its newline, and the last line without one', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [String(input.readline()), String(input.readline()), String(input.readline()), String(input.readline()), String(input.readline())])
  })
  t.same(await post(origin, 'first\n\nthird\nlast'), ['first\n', '\n', 'third\n', 'last', ''])
})

test('F1: readline(size) splits a long line, and stops at the newline within size', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [
      String(input.readline(4)), String(input.readline(4)), String(input.readline(4)),
      String(input.readline(100)), String(input.readline(-1))
    ])
  })
  t.same(await post(origin, 'abcdefghij\nkl\nrest'), ['abcd', 'efgh', 'ij\n', 'kl\n', 'rest'])
})

test('F1: readlines() returns every remaining line', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [String(input.readline()), input.readlines().map(String)])
  })
  t.same(await post(origin, 'a\nbb\n\nccc'), ['a\n', ['bb\n', '\n', 'ccc']])
})

test('F1: readlines(hint) stops once the lines read reach hint bytes', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => [
      input.readlines(3).map(String), input.readlines(4).map(String), input.readlines(1).map(String), input.readlines(0).map(String)
    ])
  })
  t.same(await post(origin, 'ab\ncd\nef\ngh\nij\nkl'), [['ab\n'], ['cd\n', 'ef\n'], ['gh\n'], ['ij\n', 'kl']],
    'a hint is reached when the total equals it (io.IOBase.readlines)')
})

test('F1: iterating wsgi.input yields its lines', bounded, async (t) => {
  const { origin } = await listenWithMount(t, {
    app: reader((input) => {
      const lines: string[] = []
      for (const line of input) lines.push(String(line))
      return lines
    })
  })
  t.same(await post(origin, 'one\ntwo\n\nfour'), ['one\n', 'two\n', '\n', 'four'])
})

test('F1: an empty body reads as empty everywhere', bounded, async (t) => {
  const { origin, port } = await listenWithMount(t, {
    app: reader((input) => {
      const lines: Buffer[] = []
      for (const line of input) lines.push(line)
      return [input.read().length, input.read(10).length, input.readline().length, input.readlines().length, lines.length]
    })
  })
  t.same(await post(origin, ''), [0, 0, 0, 0, 0], 'POST with Content-Length: 0')
  const noBody = await request(origin)
  t.same(await noBody.body.json(), [0, 0, 0, 0, 0], 'GET without a body')
  const chunked = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n')
  t.equal(parseHead(chunked.text).body, '[0,0,0,0,0]', 'an empty chunked body')
})

test('F1: bytes arrive unchanged, including non-UTF-8 bytes', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { app: echoBody })
  const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const response = await request(origin, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })
  t.same(Buffer.from(await response.body.arrayBuffer()), body)
})

// ---------------------------------------------------------------------------------------------
// Every body arrives raw on a mount

test('F1: an application/json body with invalid JSON reaches the app raw (no JSON parser runs)', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const response = await request(origin + '/legacy/api', {
    method: 'POST', body: '{"not": json,', headers: { 'content-type': 'application/json' }
  })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-content-type'], 'application/json')
  t.equal(response.headers['x-content-length'], '13')
  t.equal(await response.body.text(), '{"not": json,')
})

test('F1: a text/plain body reaches the app raw', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const body = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('\r\nline 2')])
  const response = await request(origin + '/legacy/text', {
    method: 'POST', body, headers: { 'content-type': 'text/plain; charset=latin1' }
  })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-content-type'], 'text/plain; charset=latin1')
  t.same(Buffer.from(await response.body.arrayBuffer()), body, 'a latin-1 byte is not turned into U+FFFD')
})

test('F1: a body without a Content-Type reaches the app raw', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const { text } = await rawExchange(port, 'POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\nraw=bytes')
  const { statusLine, headers, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(headers['x-content-type'], 'undefined', 'no CONTENT_TYPE')
  t.equal(headers['x-content-length'], '9')
  t.equal(body, 'raw=bytes')
})

test('F1: a multipart/form-data body reaches the app raw', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const body = '--XyZ\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n' +
    '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--XyZ--\r\n'
  const response = await request(origin + '/legacy/upload', {
    method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }
  })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['x-content-type'], 'multipart/form-data; boundary=XyZ')
  t.equal(await response.body.text(), body)
})

test('F1: an application/x-www-form-urlencoded body reaches the app raw', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const response = await request(origin + '/legacy/form', {
    method: 'PUT', body: 'a=1&b=%20&a=2', headers: { 'content-type': 'application/x-www-form-urlencoded' }
  })
  t.equal(response.statusCode, 200)
  t.equal(await response.body.text(), 'a=1&b=%20&a=2')
})

// ---------------------------------------------------------------------------------------------
// Framing: chunked bodies, bodies on GET

test('F1: a chunked request body sent in several writes arrives whole', bounded, async (t) => {
  const { port } = await listenWithMount(t, {
    prefix: '/legacy',
    app: reader((input) => [input.readlines().map(String), String(input.read())])
  })
  const text = await sendInPieces(port, [
    'POST /legacy/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    '6\r\nfirst\n\r\n',
    '3\r\nsec\r\n',
    '7\r\nond\nlas\r\n',
    '1\r\nt\r\n',
    '0\r\n\r\n'
  ])
  const { statusLine, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.same(JSON.parse(body), [['first\n', 'second\n', 'last'], ''])
})

test('F1: CONTENT_LENGTH is absent for a chunked body, and the body is still read', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const { text } = await rawExchange(port,
    'POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
  const { statusLine, headers, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 200 OK')
  t.equal(headers['x-content-length'], 'undefined')
  t.equal(body, 'abcde')
})

test('F1: a GET with a body gives the app that body', bounded, async (t) => {
  const { port } = await listenWithMount(t, { prefix: '/legacy', app: echoBody })
  const sized = await rawExchange(port, 'GET /legacy/search HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"q":"abc"}')
  t.equal(parseHead(sized.text).statusLine, 'HTTP/1.1 200 OK')
  t.equal(parseHead(sized.text).headers['x-content-length'], '11')
  t.equal(parseHead(sized.text).body, '{"q":"abc"}')
  const chunked = await sendInPieces(port, [
    'GET /legacy/search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    '4\r\nbody\r\n', '0\r\n\r\n'
  ])
  t.equal(parseHead(chunked).body, 'body', 'a chunked GET body too')
})

// ---------------------------------------------------------------------------------------------
// bodyLimit

test('F1: a body of exactly bodyLimit bytes is accepted', bounded, async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', bodyLimit: 10, app: echoBody })
  const response = await request(origin + '/legacy/', { method: 'POST', body: '0123456789' })
  t.equal(response.statusCode, 200)
  t.equal(await response.body.text(), '0123456789')
})

test('F1: a Content-Length over bodyLimit is answered 413 before the app runs; the server keeps serving', bounded, async (t) => {
  const calls = { count: 0 }
  const { origin, port } = await listenWithMount(t, { prefix: '/legacy', bodyLimit: 10, app: reader((input) => String(input.read()), calls) })
  const { text } = await rawExchange(port,
    'POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n' + 'x'.repeat(100))
  const { statusLine, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 413 Payload Too Large')
  t.equal((JSON.parse(body) as { code: string }).code, 'FST_WSGI_BODY_TOO_LARGE')
  t.equal(calls.count, 0, 'the app never ran')
  const next = await request(origin + '/legacy/', { method: 'POST', body: 'small' })
  t.equal(next.statusCode, 200)
  t.equal(await next.body.json(), 'small')
  t.equal(calls.count, 1)
})

test('F1: a chunked body growing past bodyLimit is answered 413 before the app runs; the server keeps serving', bounded, async (t) => {
  const calls = { count: 0 }
  const { origin, port } = await listenWithMount(t, { prefix: '/legacy', bodyLimit: 10, app: reader((input) => String(input.read()), calls) })
  const text = await sendInPieces(port, [
    'POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    '8\r\n12345678\r\n',
    '8\r\n12345678\r\n',
    '8\r\n12345678\r\n',
    '0\r\n\r\n'
  ])
  const { statusLine, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 413 Payload Too Large')
  t.equal((JSON.parse(body) as { code: string }).code, 'FST_WSGI_BODY_TOO_LARGE')
  t.equal(calls.count, 0, 'the app never ran')
  const next = await request(origin + '/legacy/', {
    method: 'POST', body: Readable.from(['chunk', 'ed'])
  })
  t.equal(next.statusCode, 200)
  t.equal(await next.body.json(), 'chunked')
  t.equal(calls.count, 1)
})

test('F1: after a 413 on a keep-alive connection, the next request on it is answered', bounded, async (t) => {
  const calls = { count: 0 }
  const { port } = await listenWithMount(t, { prefix: '/legacy', bodyLimit: 10, app: reader((input) => String(input.read()), calls) })
  const { text } = await rawExchange(port,
    'POST /legacy/big HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n' + 'y'.repeat(20) +
    'POST /legacy/small HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')
  const first = text.indexOf('HTTP/1.1 413 Payload Too Large')
  const second = text.indexOf('HTTP/1.1 200 OK')
  t.equal(first, 0, 'the first request gets 413')
  t.ok(second > first, 'the pipelined request is answered after it')
  t.match(text, /\r\n\r\n"ok"$/, 'with its own body, not the rest of the refused one')
  t.equal(calls.count, 1)
})

// ---------------------------------------------------------------------------------------------
// reply.wsgi after a route parser consumed the body

/** An app that reports what wsgi.input.read() returned or threw. */
const tryRead: WsgiApp = (environ, startResponse) => {
  let result: unknown
  try {
    result = { read: String(environ['wsgi.input'].read()) }
  } catch (err) {
    const { code, message, statusCode } = err as { code: string, message: string, statusCode: number }
    result = { code, message, statusCode }
  }
  startResponse('200 OK', [['Content-Type', 'application/json']])
  return [JSON.stringify(result)]
}

test('F1: reply.wsgi after the JSON parser parsed the body: read() throws FST_WSGI_BODY_UNAVAILABLE', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.post('/json', (_request, reply) => reply.wsgi(tryRead))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const response = await request(origin + '/json', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })
  t.equal(response.statusCode, 200, 'the app caught the error and answered')
  const result = await response.body.json() as { code: string, message: string }
  t.equal(result.code, 'FST_WSGI_BODY_UNAVAILABLE')
  t.match(result.message, /application\/json/, 'the message names the content type')
})

test('F1: reply.wsgi after the JSON parser parsed a JSON string body: read() throws, it does not return the decoded string', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.post('/json', (_request, reply) => reply.wsgi(tryRead))
  const response = await fastify.inject({ method: 'POST', url: '/json', payload: '"a\\u0041"', headers: { 'content-type': 'application/json' } })
  t.equal(response.json().code, 'FST_WSGI_BODY_UNAVAILABLE',
    'the raw bytes were "a\\u0041" (quoted JSON): returning aA would be neither the body nor an error')
})

test('F1: reply.wsgi after the JSON parser parsed a JSON null body: read() throws, it does not return an empty body', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.post('/json', (_request, reply) => reply.wsgi(tryRead))
  const response = await fastify.inject({ method: 'POST', url: '/json', payload: 'null', headers: { 'content-type': 'application/json' } })
  t.equal(response.json().code, 'FST_WSGI_BODY_UNAVAILABLE', 'the 4-byte body "null" was consumed, not empty')
})

// ---------------------------------------------------------------------------------------------
// G1: wsgi.errors

/** The error-level records (level 50) that wsgi.errors produced, as [msg, reqId]. */
function errorLines (logs: LogRecord[]): Array<[string, string | undefined]> {
  return logs.filter((record) => record.level === 50).map((record) => [record.msg, record.reqId])
}

/** Mounts an app that runs `use` on wsgi.errors and answers with the request id. */
async function errorsServer (t: Test, use: (errors: WsgiErrors) => void): Promise<{ origin: string, logs: LogRecord[] }> {
  const { origin, logs } = await listenWithMount(t, {
    validate: false, // the server's own wsgi.errors, not the validator's wrapper around it
    app: (environ, startResponse) => {
      use(environ['wsgi.errors'])
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [String((environ['fastify.request'] as { id: string }).id)]
    }
  })
  return { origin, logs }
}

test('G1: each complete line written to wsgi.errors is logged at level 50 with the request id', bounded, async (t) => {
  const { origin, logs } = await errorsServer(t, (errors) => { errors.write('first line\nsecond line\n') })
  const response = await request(origin + '/x')
  const reqId = await response.body.text()
  await waitFor(() => errorLines(logs).length >= 2)
  t.same(errorLines(logs), [['first line', reqId], ['second line', reqId]])
  t.ok(logs.some((record) => record.msg === 'incoming request' && record.reqId === reqId), 'the same reqId as Fastify\'s own request log')
})

test('G1: a write without a newline waits for the rest of its line', bounded, async (t) => {
  const seen: number[] = []
  let logsRef: LogRecord[] = []
  const { origin, logs } = await errorsServer(t, (errors) => {
    errors.write('no newline ')
    seen.push(errorLines(logsRef).length)
    errors.write('yet, ')
    seen.push(errorLines(logsRef).length)
    errors.write('now\nand a second\n')
    seen.push(errorLines(logsRef).length)
  })
  logsRef = logs
  const reqId = await (await request(origin)).body.text()
  await waitFor(() => errorLines(logs).length >= 2)
  t.same(seen, [0, 0, 2], 'nothing is logged before the newline')
  t.same(errorLines(logs), [['no newline yet, now', reqId], ['and a second', reqId]])
})

test('G1: writelines() writes each string in turn, without adding newlines', bounded, async (t) => {
  const { origin, logs } = await errorsServer(t, (errors) => { errors.writelines(['one\n', 'two', ' halves\n', 'three\n']) })
  const reqId = await (await request(origin)).body.text()
  await waitFor(() => errorLines(logs).length >= 3)
  t.same(errorLines(logs), [['one', reqId], ['two halves', reqId], ['three', reqId]])
})

test('G1: flush() logs a partial line at once', bounded, async (t) => {
  const seen: number[] = []
  let logsRef: LogRecord[] = []
  const { origin, logs } = await errorsServer(t, (errors) => {
    errors.write('partial')
    errors.flush()
    seen.push(errorLines(logsRef).length)
    errors.flush()
    seen.push(errorLines(logsRef).length)
    errors.write('after\n')
  })
  logsRef = logs
  const reqId = await (await request(origin)).body.text()
  await waitFor(() => errorLines(logs).length >= 2)
  t.same(seen, [1, 1], 'flushed at once; a second flush with nothing pending logs nothing')
  t.same(errorLines(logs), [['partial', reqId], ['after', reqId]])
})

test('G1: a partial line left in wsgi.errors is logged when the response ends', bounded, async (t) => {
  const seen: number[] = []
  let logsRef: LogRecord[] = []
  const { origin, logs } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      environ['wsgi.errors'].write('whole\nleft over')
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      const id = String((environ['fastify.request'] as { id: string }).id)
      return (function * () {
        seen.push(errorLines(logsRef).length)
        yield id
        seen.push(errorLines(logsRef).length)
      })()
    }
  })
  logsRef = logs
  const reqId = await (await request(origin)).body.text()
  await waitFor(() => errorLines(logs).length >= 2)
  t.same(seen, [1, 1], 'the partial line waits while the body is still being sent')
  t.same(errorLines(logs), [['whole', reqId], ['left over', reqId]])
})

test('G1: concurrent requests log to their own request id', bounded, async (t) => {
  let release: () => void = () => {}
  const bothStarted = new Promise<void>((resolve) => { release = resolve })
  let started = 0
  const { origin, logs } = await listenWithMount(t, {
    app: async (environ, startResponse) => {
      const errors = environ['wsgi.errors']
      errors.write(`${environ.PATH_INFO} begins `)
      if (++started === 2) release()
      await bothStarted
      errors.write(`${environ.PATH_INFO} ends\n`)
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [String((environ['fastify.request'] as { id: string }).id)]
    }
  })
  const [a, b] = await Promise.all(['/a', '/b'].map(async (path) => (await request(origin + path)).body.text()))
  t.not(a, b)
  await waitFor(() => errorLines(logs).length >= 2)
  const lines = errorLines(logs)
  t.equal(lines.length, 2)
  t.same(lines.find(([msg]) => msg.startsWith('/a')), ['/a begins /a ends', a])
  t.same(lines.find(([msg]) => msg.startsWith('/b')), ['/b begins /b ends', b])
})

test('F1: a client that aborts mid-upload: the app never runs, nothing is logged as an error, the server keeps serving', bounded, async (t) => {
  let calls = 0
  const { port, origin, logs } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      calls++
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [environ['wsgi.input'].read()]
    }
  })
  const socket = connect({ port, host: '127.0.0.1' })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial')
  await sleep(50)
  socket.destroy()
  await waitFor(() => logs.some((record) => record.msg === 'The client went away while sending the request body'))
  const record = logs.find((entry) => entry.msg === 'The client went away while sending the request body')
  t.equal(record?.level, 20, 'logged at debug level')
  t.equal(record?.err?.code, 'ECONNRESET')
  t.equal(calls, 0)
  t.notOk(logs.some((entry) => entry.level >= 50))
  const next = await request(origin, { method: 'POST', body: 'ok' })
  t.equal(await next.body.text(), 'ok')
})

test('F1: reply.wsgi on a route whose parser keeps the body as a Buffer reads it, in both input modes', bounded, async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  await fastify.register(async (scope) => {
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    scope.post('/buffer', (_request, reply) => reply.wsgi((environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [environ['wsgi.input'].read()]
    }))
    scope.post('/stream', (_request, reply) => reply.wsgi(async (environ, startResponse) => {
      const body = await environ['wsgi.input'].read()
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return [body]
    }, { input: 'stream' }))
  })
  for (const path of ['/buffer', '/stream']) {
    const response = await fastify.inject({ method: 'POST', url: path, payload: 'kept raw \xff', headers: { 'content-type': 'application/octet-stream' } })
    t.equal(response.body, 'kept raw \xff', path)
  }
})

test('F1: every method of an unavailable wsgi.input explains why', bounded, async (t) => {
  const { UnavailableInput } = await import('../lib/wsgi/input.js')
  const input = new UnavailableInput('the reason')
  for (const use of [() => input.read(), () => input.readline(), () => input.readlines(), () => input[Symbol.iterator](), () => input[Symbol.asyncIterator](), () => input.chunks()]) {
    t.throws(use, { code: 'FST_WSGI_BODY_UNAVAILABLE', message: 'wsgi.input cannot be read: the reason' })
  }
})
