// A declared Content-Length is enforced on the wire (checklist D8), over raw sockets.
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
