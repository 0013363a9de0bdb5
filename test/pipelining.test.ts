// Pipelined requests on one HTTP/1.1 connection: each response goes out in order, framed on its own.
import { test } from 'tap'
import type { WsgiApp } from '../lib/index.js'
import { listenWithMount, rawExchange } from './helpers/server.js'
import { sleep } from './fixtures/apps.js'

const bounded = { timeout: 10000 }

test('a body cut at its Content-Length in a response queued behind a pipelined one closes the connection after it', bounded, async (t) => {
  const app: WsgiApp = (environ, startResponse) => {
    if (environ.PATH_INFO === '/cut') {
      startResponse('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '3']])
      return ['abcdef']
    }
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    // /slow answers after the others ran, so theirs wait behind it.
    return (async function * () { await sleep(50); yield `done ${environ.PATH_INFO}` })()
  }
  const { port } = await listenWithMount(t, { app, validate: false })
  const { text, closedByServer } = await rawExchange(port,
    'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /cut HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n', 1000)
  t.match(text, /done \/slow[\s\S]*\r\n\r\nabc$/, 'the first response, then the cut one, its declared bytes only')
  t.ok(closedByServer, 'and the connection closed after it: the client cannot mistake what follows for a response')
})
