// The preamble on the wire (docs/conformance.md D6): Date and Server, each exactly once.
import { test } from 'tap'
import type { ResponseHeader, WsgiApp } from '../lib/index.js'
import { listenWithMount, rawExchange } from './helpers/server.js'

const withHeaders = (headers: ResponseHeader[]): WsgiApp => (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain'], ...headers])
  return ['x']
}

function headerLines (text: string, name: string): string[] {
  return text.split('\r\n\r\n')[0].split('\r\n').filter((line) => line.toLowerCase().startsWith(name + ':'))
}

test('D6: Date is sent once, as an IMF-fixdate, when the app sent none', async (t) => {
  const { port } = await listenWithMount(t, { app: withHeaders([]) })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const dates = headerLines(text, 'date')
  t.equal(dates.length, 1)
  t.match(dates[0], /^Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
})

test('D6: the app\'s own Date and Server are sent instead of the server\'s, once each', async (t) => {
  const { port } = await listenWithMount(t, { app: withHeaders([['date', 'Wed, 24 Dec 2008 13:29:32 GMT'], ['SERVER', 'legacy/1']]) })
  const { text } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(headerLines(text, 'date'), ['date: Wed, 24 Dec 2008 13:29:32 GMT'])
  t.same(headerLines(text, 'server'), ['SERVER: legacy/1'])
})

test('D6: Server comes from serverSoftware, and serverSoftware false sends none', async (t) => {
  const named = await listenWithMount(t, { app: withHeaders([]), serverSoftware: 'mine/2' })
  t.same(headerLines((await rawExchange(named.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text, 'server'), ['Server: mine/2'])
  const none = await listenWithMount(t, { app: withHeaders([]), serverSoftware: false })
  t.same(headerLines((await rawExchange(none.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text, 'server'), [])
})
