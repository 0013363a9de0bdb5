// 1000 requests aborted mid-stream: every body closed once, and listeners and sockets back to baseline.
import { test } from 'tap'
import type { WsgiApp } from '../lib/index.js'
import { abortAfterFirstBytes, listenWithMount, waitFor } from './helpers/server.js'

test('D7/A2: 1000 client aborts mid-body leave no body unclosed, no listener and no socket behind', { timeout: 60000 }, async (t) => {
  let started = 0
  let closes = 0
  const app: WsgiApp = (environ, startResponse) => {
    started++
    environ['fastify.signal']?.addEventListener('abort', () => {})
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return Object.assign((async function * () {
      for (let i = 0; i < 10000; i++) {
        yield 'x'.repeat(1024)
        await new Promise((resolve) => setImmediate(resolve))
      }
    })(), { close: () => { closes++ } })
  }
  const { port, fastify, logs } = await listenWithMount(t, { app, signal: true })
  const server = fastify.server
  const baselineListeners = server.listenerCount('connection') + server.listenerCount('request')
  const total = 1000
  const batch = 50
  for (let sent = 0; sent < total; sent += batch) {
    await Promise.all(Array.from({ length: batch }, () => abortAfterFirstBytes(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')))
  }
  await waitFor(() => closes === total, 20000)
  t.equal(started, total)
  t.equal(closes, total, 'every body closed exactly once')
  const openConnections = (): Promise<number> => new Promise((resolve, reject) => server.getConnections((err, count) => err ? reject(err) : resolve(count)))
  let connections = await openConnections()
  for (let i = 0; i < 100 && connections > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    connections = await openConnections()
  }
  t.equal(connections, 0, 'no socket left open')
  t.equal(server.listenerCount('connection') + server.listenerCount('request'), baselineListeners)
  t.notOk(logs.some((record) => record.level >= 50), 'no error logged')
})
