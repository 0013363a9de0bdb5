// makeServer: wsgiref's make_server(...).serve_forever() and shutdown(), over real sockets.
import { test, type Test } from 'tap'
import { connect as connectHttp2 } from 'node:http2'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { request } from 'undici'
import { makeServer, type MakeServerOptions, type StreamingWsgiApp, type WsgiApp, type WsgiServer } from '../lib/index.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createAccessLog } from '../lib/server/access-log.js'
import { linesApp } from './fixtures/apps.js'
import { logCollector, openConnection, parseHead, rawExchange, waitFor, type LogRecord } from './helpers/server.js'

const bounded = { timeout: 10_000 }

const describe: WsgiApp = (environ, startResponse) => {
  const body = environ['wsgi.input'].read()
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return [`${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}?${environ.QUERY_STRING} ${body.length}`]
}

function portOf (server: WsgiServer): number {
  return (server.server.address() as AddressInfo).port
}

/** makeServer on a free port, logging into `logs`, closed when the test ends. */
async function serve (t: Test, app: WsgiApp, options: MakeServerOptions & { input?: 'buffer' } = {}): Promise<{ server: WsgiServer, port: number, logs: LogRecord[] }> {
  const { stream, records } = logCollector()
  const server = await makeServer(app, { port: 0, logger: { level: 'info', stream }, ...options })
  t.teardown(() => server.close())
  return { server, port: portOf(server), logs: records }
}

test('serves the app at / for every method, on 127.0.0.1', bounded, async (t) => {
  const { server, port } = await serve(t, describe)
  t.equal((server.server.address() as AddressInfo).address, '127.0.0.1')
  const origin = `http://127.0.0.1:${port}`
  t.equal(await (await request(`${origin}/a/b?x=1`)).body.text(), 'GET |/a/b?x=1 0')
  t.equal(await (await request(`${origin}/`, { method: 'POST', body: 'hello' })).body.text(), 'POST |/? 5')
  t.equal(await (await request(`${origin}/p`, { method: 'DELETE' })).body.text(), 'DELETE |/p? 0')
})

test('one access line per request: method, url, status, bytes on the wire, response time, request id', bounded, async (t) => {
  const { port, logs } = await serve(t, describe)
  const response = await rawExchange(port, 'GET /x?y=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(parseHead(response.text).body, 'GET |/x?y=1 0')
  await waitFor(() => logs.some((record) => record.msg === 'request completed'))
  const access = logs.filter((record) => record.reqId !== undefined)
  t.equal(access.length, 1, 'no "incoming request" line besides it')
  t.match(access[0], { level: 30, msg: 'request completed', method: 'GET', url: '/x?y=1', statusCode: 200, reqId: String })
  t.equal(access[0].bytes, Buffer.byteLength(response.text, 'latin1'), 'status line, headers and body')
  t.type(access[0].responseTime, 'number')
})

test('access lines count each response of a keep-alive connection apart', bounded, async (t) => {
  const { port, logs } = await serve(t, describe)
  const connection = openConnection(t, port)
  connection.socket.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().endsWith('/one? 0'))
  const first = connection.text().length
  connection.socket.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().endsWith('/second? 0'))
  await waitFor(() => logs.filter((record) => record.msg === 'request completed').length === 2)
  const bytes = logs.filter((record) => record.msg === 'request completed').map((record) => record.bytes)
  t.same(bytes, [first, connection.text().length - first])
})

test('an app error is logged at error level with its stack', bounded, async (t) => {
  const { port, logs } = await serve(t, function brokenApp () { throw new Error('the app broke') })
  t.equal((await request(`http://127.0.0.1:${port}/`)).statusCode, 500)
  await waitFor(() => logs.some((record) => record.msg === 'request completed'))
  const error = logs.find((record) => record.level === 50)
  t.equal(error?.err?.message, 'the app broke')
  t.match(error?.err?.stack, /brokenApp/)
  t.match(logs.find((record) => record.msg === 'request completed'), { statusCode: 500 })
})

test('a response that ends in a stream error is logged at error level with the error', async (t) => {
  const records: Array<{ level: string, line: Record<string, unknown>, msg: string }> = []
  const log = {
    info: (line: Record<string, unknown>, msg: string) => records.push({ level: 'info', line, msg }),
    error: (line: Record<string, unknown>, msg: string) => records.push({ level: 'error', line, msg })
  }
  const request = { method: 'GET', url: '/x', raw: { httpVersionMajor: 2, stream: {} }, log } as unknown as FastifyRequest
  const reply = { statusCode: 200, elapsedTime: 1.5, raw: { getHeader: () => '10' } } as unknown as FastifyReply
  const err = new Error('stream reset')
  createAccessLog().requestCompleted(err, request, reply)
  t.same(records, [{ level: 'error', msg: 'request errored', line: { method: 'GET', url: '/x', statusCode: 200, bytes: 10, responseTime: 1.5, err } }])
})

test('HTTP/2: serves the app, and the access line counts the Content-Length', bounded, async (t) => {
  const { port, logs } = await serve(t, describe, { http2: true })
  const session = connectHttp2(`http://127.0.0.1:${port}`)
  t.teardown(() => session.destroy())
  const stream = session.request({ ':path': '/h2?q=2' })
  let status = 0
  let body = ''
  stream.on('response', (headers) => { status = Number(headers[':status']) })
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => { body += chunk })
  await new Promise((resolve) => stream.once('end', resolve))
  t.equal(status, 200)
  t.equal(body, 'GET |/h2?q=2 0')
  await waitFor(() => logs.some((record) => record.msg === 'request completed'))
  t.match(logs.find((record) => record.msg === 'request completed'), { url: '/h2?q=2', statusCode: 200, bytes: body.length })
})

test('HTTP/2: a streamed response has no length to log', bounded, async (t) => {
  const { port, logs } = await serve(t, linesApp(2, 1, []), { http2: true })
  const session = connectHttp2(`http://127.0.0.1:${port}`)
  t.teardown(() => session.destroy())
  const stream = session.request({ ':path': '/' })
  stream.resume()
  await new Promise((resolve) => stream.once('end', resolve))
  await waitFor(() => logs.some((record) => record.msg === 'request completed'))
  const access = logs.find((record) => record.msg === 'request completed')
  t.equal(access?.statusCode, 200)
  t.notOk('bytes' in (access as LogRecord), 'no bytes field rather than a wrong one')
})

test('plugin options reach the plugin, Fastify options reach Fastify', bounded, async (t) => {
  const { port } = await serve(t, describe, { serverSoftware: 'legacy/1.0', bodyLimit: 10 })
  const origin = `http://127.0.0.1:${port}`
  t.equal((await request(`${origin}/`)).headers.server, 'legacy/1.0')
  t.equal((await request(`${origin}/`, { method: 'POST', body: 'more than ten bytes' })).statusCode, 413)
})

test('prefix mounts the app there, as its SCRIPT_NAME; other paths get 404', bounded, async (t) => {
  const { port } = await serve(t, describe, { prefix: '/legacy' })
  const origin = `http://127.0.0.1:${port}`
  t.equal(await (await request(`${origin}/legacy/a/b?x=1`)).body.text(), 'GET /legacy|/a/b?x=1 0')
  t.equal(await (await request(`${origin}/legacy`)).body.text(), 'GET /legacy|? 0')
  t.equal((await request(`${origin}/elsewhere`)).statusCode, 404)
})

test('requestTimeout also bounds a body that arrives too slowly (Fastify alone bounds only the headers)', bounded, async (t) => {
  const { port } = await serve(t, describe, { requestTimeout: 300, http: { connectionsCheckingInterval: 50 } })
  const connection = openConnection(t, port)
  const started = Date.now()
  connection.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde')
  await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 3000))])
  const elapsed = Date.now() - started
  t.match(connection.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.ok(elapsed >= 250 && elapsed < 1500, `answered after ${elapsed} ms`)
})

test('on a Fastify older than 5.10 makeServer says which version it needs and which it found', async (t) => {
  // Fastify 5.9 as makeServer sees it: no LogController export; an instance tells its version.
  const fastify59 = (): { version: string } => ({ version: '5.9.0' })
  const version59 = await t.mockImport('../lib/server/fastify-version.js', { fastify: { default: fastify59 } })
  const accessLog59 = await t.mockImport('../lib/server/access-log.js', { '../lib/server/fastify-version.js': version59 })
  const serve59 = await t.mockImport<typeof import('../lib/server/make-server.js')>('../lib/server/make-server.js', {
    fastify: { default: fastify59 },
    '../lib/server/access-log.js': accessLog59
  })
  await t.rejects(serve59.makeServer(describe, { port: 0 }), {
    code: 'FST_WSGI_FASTIFY_VERSION',
    message: 'makeServer and the fastify-wsgi command need Fastify 5.10 or later (found 5.9.0)'
  })
})

test('input: stream serves a StreamingWsgiApp', bounded, async (t) => {
  const echo: StreamingWsgiApp = async (environ, startResponse) => {
    const body = await environ['wsgi.input'].read()
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [body]
  }
  const server = await makeServer(echo, { port: 0, input: 'stream' })
  t.teardown(() => server.close())
  const response = await request(`http://127.0.0.1:${portOf(server)}/`, { method: 'PUT', body: 'streamed' })
  t.equal(await response.body.text(), 'streamed')
})

test('close() lets a streamed response finish and closes its body once', bounded, async (t) => {
  const closed: string[] = []
  const { server, port } = await serve(t, linesApp(4, 100, closed))
  const connection = openConnection(t, port)
  connection.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().includes('line 0'))
  await server.close()
  await connection.closed
  t.ok(connection.text().endsWith('line 3\n\r\n0\r\n\r\n'), 'the whole body')
  t.same(closed, ['/slow'])
})

test('close(): a request pipelined behind a response in flight is still served, with Connection: close', bounded, async (t) => {
  const closed: string[] = []
  const slow = linesApp(3, 100, closed)
  const { server, port } = await serve(t, (environ, startResponse) => environ.PATH_INFO === '/slow' ? slow(environ, startResponse) : describe(environ, startResponse))
  const connection = openConnection(t, port)
  connection.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => connection.text().includes('line 0'))
  const closing = server.close()
  await waitFor(() => !server.server.listening)
  connection.socket.write('POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab')
  await closing
  await connection.closed
  const [first, second] = connection.text().split('0\r\n\r\n')
  t.ok(first.endsWith('line 2\n\r\n'), 'the first response is whole')
  t.match(second, /^HTTP\/1\.1 200 OK\r\n/)
  t.match(second, /\r\nconnection: close\r\n/i)
  t.ok(second.endsWith('POST |/second? 2'), 'the app answered the second')
  t.same(closed, ['/slow'])
})

for (const http2 of [false, true]) {
  test(`gracefulTimeout: close() destroys what is still open after it, and the body still gets close() (${http2 ? 'HTTP/2' : 'HTTP/1.1'})`, bounded, async (t) => {
    const closed: string[] = []
    const { server, port, logs } = await serve(t, linesApp(Infinity, 20, closed), { gracefulTimeout: 300, http2 })
    let received = ''
    if (http2) {
      const session = connectHttp2(`http://127.0.0.1:${port}`)
      session.on('error', () => {})
      t.teardown(() => session.destroy())
      const stream = session.request({ ':path': '/endless' })
      stream.on('error', () => {})
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => { received += chunk })
    } else {
      const connection = openConnection(t, port)
      connection.socket.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n')
      connection.socket.on('data', (chunk: string) => { received += chunk })
    }
    await waitFor(() => received.includes('line 0'))
    const started = Date.now()
    await server.close()
    const elapsed = Date.now() - started
    t.ok(elapsed >= 250 && elapsed < 3000, `close() took about gracefulTimeout (${elapsed} ms), and the body's next step`)
    t.same(closed, ['/endless'], 'the body closed exactly once, before close() resolved')
    t.ok(logs.some((record) => record.level === 40 && record.msg.includes('graceful shutdown timed out')))
  })
}

test('a server closed before its timeout leaves no timer behind', bounded, async (t) => {
  const server = await makeServer(describe, { port: 0, gracefulTimeout: 60_000 })
  const started = Date.now()
  await server.close()
  t.ok(Date.now() - started < 1000)
})

test('invalid options are refused with FST_WSGI_INVALID_OPTION, naming the value', async (t) => {
  await t.rejects(makeServer(describe, { port: -1 }), { code: 'FST_WSGI_INVALID_OPTION', message: /"port": expected an integer from 0 to 65535, got number -1/ })
  await t.rejects(makeServer(describe, { port: 1.5 }), { code: 'FST_WSGI_INVALID_OPTION' })
  await t.rejects(makeServer(describe, { port: 65536 }), { code: 'FST_WSGI_INVALID_OPTION' })
  await t.rejects(makeServer(describe, { port: 0, gracefulTimeout: -1 }), { code: 'FST_WSGI_INVALID_OPTION', message: /"gracefulTimeout"/ })
  await t.rejects(makeServer(describe, { port: 0, gracefulTimeout: '5' as unknown as number }), { code: 'FST_WSGI_INVALID_OPTION' })
  // Node's timers take at most 2^31 - 1 ms: a longer graceful timeout would cut every response at once.
  await t.rejects(makeServer(describe, { port: 0, gracefulTimeout: Infinity }), { code: 'FST_WSGI_INVALID_OPTION', message: /from 0 to 2147483647, got number Infinity/ })
  await t.rejects(makeServer(describe, { port: 0, prefix: 'legacy' }), { code: 'FST_WSGI_INVALID_OPTION', message: /"prefix"/ })
  await t.rejects(makeServer('not an app' as unknown as WsgiApp, { port: 0 }), { code: 'FST_WSGI_INVALID_OPTION', message: /"app"/ })
  // Every plugin option reaches the plugin, which validates it.
  for (const name of ['serverSoftware', 'input', 'pathEncoding', 'dropUnderscoreHeaders', 'baseEnviron', 'multiprocess', 'validate', 'onSendHooks']) {
    await t.rejects(makeServer(describe, { port: 0, [name]: 42 }), { code: 'FST_WSGI_INVALID_OPTION', message: new RegExp(`"${name}"`) }, name)
  }
  for (const name of ['lingeringTime', 'lingeringLimit']) {
    await t.rejects(makeServer(describe, { port: 0, [name]: -1 }), { code: 'FST_WSGI_INVALID_OPTION', message: new RegExp(`"${name}"`) }, name)
  }
})

test('a port in use rejects with EADDRINUSE', bounded, async (t) => {
  const blocker = createNetServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  await t.rejects(makeServer(describe, { port: (blocker.address() as AddressInfo).port }), { code: 'EADDRINUSE' })
})
