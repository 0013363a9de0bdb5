// Two WSGI middlewares to copy, stacked with compose(): a router that dispatches on the first
// path segment with shiftPathInfo, and a request logger that times the body and forwards close().
import { compose, shiftPathInfo, type Body, type Chunk, type Middleware, type WsgiApp } from 'fastify-wsgi'

/**
 * Dispatches on the first PATH_INFO segment: `/users/7` goes to `routes.users` with
 * SCRIPT_NAME extended by `/users` and PATH_INFO `/7`. Other paths go to the wrapped app.
 */
export function routeByFirstSegment (routes: Record<string, WsgiApp>): Middleware {
  return (fallback) => (environ, startResponse) => {
    const segment = /^\/([^/]+)/.exec(environ.PATH_INFO)?.[1]
    const app = segment === undefined ? undefined : routes[segment]
    if (app === undefined) return fallback(environ, startResponse)
    shiftPathInfo(environ)
    return app(environ, startResponse)
  }
}

/** What the logger reports when a response is over. */
export interface RequestRecord {
  method: string
  path: string
  status: string
  bytes: number
  ms: number
}

/**
 * Logs each request once its body is done: the server calls close() exactly once, so that is
 * where the response ends. The body keeps its kind (an array stays an array, so a one-chunk
 * body still gets Content-Length; async stays async) and the app's own close() still runs.
 */
export function requestLogger (log: (record: RequestRecord) => void): Middleware {
  return (app) => (environ, startResponse) => {
    const started = performance.now()
    let status = ''
    let bytes = 0
    const count = (chunk: Chunk): void => { bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength }
    const path = environ.SCRIPT_NAME + environ.PATH_INFO
    const done = (): void => { log({ method: environ.REQUEST_METHOD, path, status, bytes, ms: performance.now() - started }) }
    const result = app(environ, (line, headers, excInfo) => {
      status = line
      const write = startResponse(line, headers, excInfo)
      return (chunk) => { count(chunk); write(chunk) }
    })
    return result instanceof Promise ? result.then((body) => observe(body, count, done)) : observe(result, count, done)
  }
}

function observe (body: Body, onChunk: (chunk: Chunk) => void, onClose: () => void): Body {
  const close = (): void => {
    try {
      body.close?.()
    } finally {
      onClose()
    }
  }
  if (Array.isArray(body)) {
    body.forEach(onChunk)
    return Object.assign([...body], { close })
  }
  if (Symbol.asyncIterator in body) {
    return Object.assign((async function * () {
      for await (const chunk of body) {
        onChunk(chunk)
        yield chunk
      }
    })(), { close })
  }
  return Object.assign((function * () {
    for (const chunk of body) {
      onChunk(chunk)
      yield chunk
    }
  })(), { close })
}

/** The example stack: requests are logged, `/hello` and `/stream` routed, anything else 404s. */
export function toolsApp (routes: Record<string, WsgiApp>, log: (record: RequestRecord) => void): WsgiApp {
  const notFound: WsgiApp = (environ, startResponse) => {
    startResponse('404 Not Found', [['Content-Type', 'text/plain']])
    return [`Nothing at ${environ.SCRIPT_NAME}${environ.PATH_INFO}\n`]
  }
  return compose(requestLogger(log), routeByFirstSegment(routes))(notFound)
}
