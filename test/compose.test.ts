// compose() and the two example middlewares of examples/middleware.ts, on a real mount.
import { test } from 'tap'
import { request } from 'undici'
import { compose, type Body, type Middleware, type WsgiApp } from '../lib/index.js'
import { requestLogger, routeByFirstSegment, toolsApp, type RequestRecord } from '../examples/middleware.js'
import { abortAfterFirstBytes, listenWithMount, waitFor } from './helpers/server.js'

const TEXT: Array<[string, string]> = [['Content-Type', 'text/plain']]

test('compose(a, b)(app) is a(b(app)): the first middleware sees the request first', async (t) => {
  const seen: string[] = []
  const tag = (name: string): Middleware => (app) => (environ, startResponse) => {
    seen.push(name)
    return app(environ, startResponse)
  }
  const app: WsgiApp = (_environ, startResponse) => {
    seen.push('app')
    startResponse('200 OK', TEXT)
    return []
  }
  const { origin } = await listenWithMount(t, { app: compose(tag('outer'), tag('inner'))(app) })
  await (await request(origin)).body.dump()
  t.same(seen, ['outer', 'inner', 'app'])
  t.equal(compose()(app), app, 'no middleware: the app itself')
})

test('compose() refuses a middleware that is not a function, naming its position', async (t) => {
  t.throws(() => compose((app) => app, 'logger' as unknown as Middleware), {
    code: 'FST_WSGI_INVALID_OPTION',
    message: /compose\(\) argument 2": expected a middleware function \(app\) => app, got "logger"/
  })
})

test('routeByFirstSegment dispatches with shiftPathInfo; other paths reach the wrapped app', async (t) => {
  const show: WsgiApp = (environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return [`${environ.SCRIPT_NAME}|${environ.PATH_INFO}`]
  }
  const { origin } = await listenWithMount(t, { prefix: '/tools', app: routeByFirstSegment({ users: show })(show) })
  t.equal(await (await request(`${origin}/tools/users/7`)).body.text(), '/tools/users|/7')
  t.equal(await (await request(`${origin}/tools/other/7`)).body.text(), '/tools|/other/7')
  t.equal(await (await request(`${origin}/tools`)).body.text(), '/tools|')
})

test('requestLogger logs once, after close(), with status and bytes; one chunk keeps its Content-Length', async (t) => {
  const records: RequestRecord[] = []
  let closes = 0
  const apps: Record<string, WsgiApp> = {
    one: (_environ, startResponse) => {
      startResponse('200 OK', TEXT)
      return Object.assign(['hello'], { close: () => { closes++ } })
    },
    lines: (_environ, startResponse) => {
      startResponse('201 Created', TEXT)
      return Object.assign((function * () { yield 'a'; yield Buffer.from('bc') })(), { close: () => { closes++ } })
    },
    later: async (_environ, startResponse) => {
      const write = startResponse('202 Accepted', TEXT)
      write('legacy ')
      return (async function * () { yield 'async' })()
    }
  }
  const { origin } = await listenWithMount(t, { app: toolsApp(apps, (record) => { records.push(record) }) })
  const one = await request(`${origin}/one`)
  t.equal(one.headers['content-length'], '5')
  await one.body.dump()
  t.equal(await (await request(`${origin}/lines`)).body.text(), 'abc')
  t.equal(await (await request(`${origin}/later`)).body.text(), 'legacy async')
  const missing = await request(`${origin}/missing`)
  t.equal(missing.statusCode, 404)
  await missing.body.dump()
  await waitFor(() => records.length === 4)
  t.same(records.map(({ method, path, status, bytes }) => ({ method, path, status, bytes })), [
    { method: 'GET', path: '/one', status: '200 OK', bytes: 5 },
    { method: 'GET', path: '/lines', status: '201 Created', bytes: 3 },
    { method: 'GET', path: '/later', status: '202 Accepted', bytes: 12 },
    { method: 'GET', path: '/missing', status: '404 Not Found', bytes: 20 }
  ])
  t.ok(records.every((record) => record.ms >= 0))
  t.equal(closes, 2, "the app's own close() runs once per response")
})

test('requestLogger: a client that leaves mid-body still gets the request logged, and the app body closed', async (t) => {
  const records: RequestRecord[] = []
  let finallyRan = false
  const endless: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (async function * () {
      try {
        for (;;) {
          yield 'x'.repeat(16 * 1024)
          await new Promise((resolve) => setImmediate(resolve))
        }
      } finally {
        finallyRan = true
      }
    })() as Body
  }
  const { port } = await listenWithMount(t, { app: requestLogger((record) => { records.push(record) })(endless) })
  await abortAfterFirstBytes(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await waitFor(() => records.length === 1)
  t.equal(records[0].status, '200 OK')
  t.ok(records[0].bytes > 0)
  t.ok(finallyRan, 'the wrapped generator was stopped')
})
