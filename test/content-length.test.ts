// A declared Content-Length is enforced on the wire (docs/conformance.md D8), over raw sockets.
import { test } from 'tap'
import type { WsgiApp } from '../lib/index.js'
import { listenWithMount, parseHead, rawExchange } from './helpers/server.js'

const declares = (length: number, chunks: string[]): WsgiApp => (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', String(length)]])
  return chunks
}

// Both transports: reply.raw (the default) and reply.send (onSendHooks).
for (const onSendHooks of [false, true]) {
  const mode = onSendHooks ? 'onSendHooks: ' : ''

  test(`${mode}D8: a longer body is cut at the declared length, logged, and the connection closed`, async (t) => {
    const { port, logs } = await listenWithMount(t, { onSendHooks, app: declares(5, ['abc', 'defgh', 'ij']) })
    const response = await rawExchange(port,
      'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n')
    const { headers, body } = parseHead(response.text)
    t.equal(headers['content-length'], '5')
    t.equal(body, 'abcde', 'exactly the declared bytes, and no second response')
    t.ok(response.closedByServer, 'the connection is not reused')
    const mismatch = logs.find((record) => record.err?.code === 'FST_WSGI_CONTENT_LENGTH_MISMATCH')
    t.equal(mismatch?.level, 50)
    t.match(mismatch?.err?.message, 'The app declared Content-Length 5 but the body is longer')
  })

  test(`${mode}D8: a shorter body ends the connection so the client sees it incomplete`, async (t) => {
    const { port, logs } = await listenWithMount(t, { onSendHooks, app: declares(10, ['abc', 'de']) })
    const response = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const { headers, body } = parseHead(response.text)
    t.equal(headers['content-length'], '10')
    t.equal(body, 'abcde')
    t.ok(response.closedByServer)
    t.match(logs.find((record) => record.level === 50)?.err?.message, 'the body ended after 5 bytes')
  })

  test(`${mode}D8: a body of exactly the declared length keeps the connection alive`, async (t) => {
    const { port, logs } = await listenWithMount(t, { onSendHooks, app: declares(5, ['ab', 'cde']) })
    const response = await rawExchange(port, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n')
    t.equal(response.text.split('HTTP/1.1 200 OK').length, 3, 'both requests answered on one connection')
    t.notOk(response.closedByServer)
    t.notOk(logs.some((record) => record.level >= 50))
  })
}

test('D8: an empty body under a declared Content-Length is a 500 before any byte, not a response that never ends', async (t) => {
  for (const body of [[], ['', ''], (function * () { yield '' })()]) {
    const { port, logs } = await listenWithMount(t, {
      app: (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '10']])
        return body
      }
    })
    const response = await rawExchange(port, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    const [first, second] = response.text.split(/(?=HTTP\/1\.1 )/)
    t.match(first, /^HTTP\/1.1 500 /, 'the promise of 10 bytes is never sent')
    t.notMatch(first, /Content-Length: 10/)
    t.match(second, /^HTTP\/1.1 500 /, 'the next response on the connection is read as a response, not as a body')
    t.match(logs.find((record) => record.level === 50)?.err?.message, 'The app declared Content-Length 10 but the body was empty')
  }
})

test('D8: HEAD, 204 and 304 keep a declared Content-Length over an empty body', async (t) => {
  const { port } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      const status = environ.PATH_INFO === '/304' ? '304 Not Modified' : environ.PATH_INFO === '/204' ? '204 No Content' : '200 OK'
      startResponse(status, status === '200 OK' ? [['Content-Type', 'text/plain'], ['Content-Length', '10']] : [['Content-Length', '10']])
      return []
    }
  })
  const response = await rawExchange(port,
    'HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(response.text.match(/^HTTP\/1\.1 \d+/gm), ['HTTP/1.1 200', 'HTTP/1.1 304', 'HTTP/1.1 204'])
  t.match(response.text, /^Content-Length: 10\r\n/m)
})
