// HTTP/1.0 and HTTP/1.1 connection handling over raw sockets (docs/conformance.md D5, D9).
import { test } from 'tap'
import { connect } from 'node:net'
import { request, Client } from 'undici'
import type { WsgiApp } from '../lib/index.js'
import { decodeChunked, listenWithMount, parseHead, rawExchange } from './helpers/server.js'

const oneChunk: WsgiApp = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return [`one chunk for ${environ.PATH_INFO}`]
}
const generator: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return (function * () { yield 'first, '; yield 'second, '; yield 'third' })()
}

test('HTTP/1.0: a one-chunk body has Content-Length and the connection closes', async (t) => {
  const { port } = await listenWithMount(t, { app: oneChunk })
  const response = await rawExchange(port, 'GET /x HTTP/1.0\r\n\r\n')
  const { statusLine, headers, body } = parseHead(response.text)
  t.equal(statusLine, 'HTTP/1.1 200 OK', 'Node answers with its own version')
  t.equal(headers['content-length'], String(body.length))
  t.equal(body, 'one chunk for /x')
  t.equal(headers.connection, 'close')
  t.ok(response.closedByServer)
})

test('D5: HTTP/1.0 gets a close-delimited body of unknown length, without chunked framing', async (t) => {
  const { port } = await listenWithMount(t, { app: generator })
  const response = await rawExchange(port, 'GET / HTTP/1.0\r\n\r\n')
  const { headers, body } = parseHead(response.text)
  t.equal(headers['transfer-encoding'], undefined)
  t.equal(headers['content-length'], undefined)
  t.equal(body, 'first, second, third')
  t.ok(response.closedByServer, 'the close ends the body')
})

test('D5: HTTP/1.0 with keep-alive is kept alive only when the length is known', async (t) => {
  const known = await listenWithMount(t, { app: oneChunk })
  const kept = await rawExchange(known.port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n')
  t.match(kept.text, /one chunk for \/a/)
  t.match(kept.text, /one chunk for \/b$/, 'the second request was answered on the same connection')
  const unknown = await listenWithMount(t, { app: generator })
  const closed = await rawExchange(unknown.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n')
  t.equal(closed.text.split('HTTP/1.1 200 OK').length, 2, 'only the first was answered: its body ends with the connection')
  t.ok(closed.closedByServer)
})

test('D5: HTTP/1.1 frames a body of unknown length as chunked', async (t) => {
  const { port } = await listenWithMount(t, { app: generator })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const { headers, body } = parseHead(text)
  t.equal(headers['transfer-encoding'], 'chunked')
  // Node 24+ frames the writes of one tick as one chunk: the chunk boundaries are Node's, the bytes and the last chunk are ours.
  const { chunks, ended } = decodeChunked(body)
  t.equal(chunks.join(''), 'first, second, third')
  t.ok(chunks.every((chunk) => chunk.length > 0), 'no empty chunk before the last')
  t.ok(ended, 'the body ends with the 0-length last chunk')
})

test('keep-alive: several requests on one connection, and two pipelined in one write, all answered in order', async (t) => {
  const { port, origin } = await listenWithMount(t, { app: oneChunk })
  const client = new Client(origin, { pipelining: 1 })
  t.teardown(() => client.close())
  const sockets = new Set<unknown>()
  client.on('connect', (_url, targets) => sockets.add(targets))
  for (const path of ['/1', '/2', '/3']) {
    const response = await client.request({ method: 'GET', path })
    t.equal(await response.body.text(), `one chunk for ${path}`)
  }
  t.equal(sockets.size, 1, 'one connection served the three')
  const pipelined = await rawExchange(port, 'GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(pipelined.text, /one chunk for \/p1[\s\S]*one chunk for \/p2$/)
})

test('D9: HEAD sends headers with Content-Length and no body; the next request on the connection parses', async (t) => {
  const { port } = await listenWithMount(t, { app: oneChunk })
  const { text } = await rawExchange(port, 'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const [head, rest] = text.split(/(?=HTTP\/1.1 200 OK)/g).filter(Boolean)
  t.match(head, /Content-Length: 16\r\n/)
  t.match(head, /\r\n\r\n$/, 'nothing after the HEAD headers')
  t.match(rest, /one chunk for \/g$/)
})

test('D9: HEAD of a generator body sends no chunked framing', async (t) => {
  const { port } = await listenWithMount(t, { app: generator })
  const { text } = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(text, /\r\n\r\n$/)
  t.notMatch(text, /first/)
})

test('D9: 204 and 304 responses carry no body on the wire', async (t) => {
  const { origin } = await listenWithMount(t, {
    app: (environ, startResponse) => {
      startResponse(environ.PATH_INFO === '/204' ? '204 No Content' : '304 Not Modified', [['ETag', '"v1"']])
      return ['must not be sent']
    }
  })
  for (const path of ['/204', '/304']) {
    const response = await request(origin + path)
    t.equal(await response.body.text(), '', path)
    t.equal(response.headers['content-length'], undefined, path)
  }
})

test('D9: a 1xx final status becomes a 500 before any byte, never an interim response the client waits after', async (t) => {
  let closes = 0
  const { port, logs } = await listenWithMount(t, {
    validate: false,
    app: (_environ, startResponse) => {
      startResponse('102 Processing', [['Content-Type', 'text/plain']])
      return Object.assign(['must not be sent', 'at all'], { close: () => { closes++ } })
    }
  })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const { statusLine, body } = parseHead(text)
  t.equal(statusLine, 'HTTP/1.1 500 Internal Server Error')
  t.notMatch(body, 'must not be sent')
  t.equal(closes, 1)
  t.match(logs.find((record) => record.level === 50)?.err?.message, 'Invalid status "102 Processing": a 1xx status is informational')
})

/**
 * Sends a raw request and tells how the connection ended: a clean close ('end') or an error code.
 * Node 20 and 22 report a reset that arrives right behind the last bytes as a clean end (their
 * libuv takes a short read seen with the peer's hang-up for end of stream), so an end is checked by
 * writing: to a half-closed connection the write goes through, to a reset one it fails.
 */
function howItEnds (port: number, requestText: string): Promise<{ text: string, ending: string }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    let text = ''
    socket.write(requestText)
    socket.on('data', (chunk) => { text += chunk.toString('latin1') })
    socket.on('end', () => {
      socket.write('probe', (err?: NodeJS.ErrnoException | null) => {
        socket.destroy()
        resolve({ text, ending: err?.code ?? 'end' })
      })
    })
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ text, ending: err.code ?? 'error' }))
  })
}

for (const onSendHooks of [false, true]) {
  test(`${onSendHooks ? 'onSendHooks: ' : ''}D5: an HTTP/1.0 body of unknown length that fails midway ends with a reset, never a clean close that reads as complete`, async (t) => {
    const { port, logs } = await listenWithMount(t, {
      onSendHooks,
      input: 'buffer',
      app: (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'text/plain']])
        return (function * () { yield 'partial'; throw new Error('failed midway') })()
      }
    })
    const { text, ending } = await howItEnds(port, 'GET / HTTP/1.0\r\n\r\n')
    t.equal(ending, 'ECONNRESET', 'the client sees an error')
    t.match(text, /\r\n\r\npartial$/, 'what was written arrives before the reset')
    t.notMatch(text, /Content-Length|Transfer-Encoding/i, 'close-delimited: the close is the only framing')
    t.match(logs.find((record) => record.level === 50)?.err?.message, 'failed midway')
    const framed = await howItEnds(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    t.equal(framed.ending, 'end', 'a chunked body shows its failure by its missing last chunk: a clean close is enough')
    t.match(framed.text, /7\r\npartial\r\n$/)
  })
}
