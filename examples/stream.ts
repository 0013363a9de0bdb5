// A generator app: each line goes out as soon as it is yielded, and `finally` runs
// when the response ends, fails, or the client goes away (the body's close()).
import type { Environ, StartResponse, WsgiApp } from 'fastify-wsgi'
import { setTimeout as sleep } from 'node:timers/promises'

export const countdown: WsgiApp = async function * (environ: Environ, startResponse: StartResponse) {
  const from = Math.min(Number(new URLSearchParams(environ.QUERY_STRING).get('from') ?? 5), 20)
  startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']])
  try {
    for (let i = from; i > 0; i--) {
      yield `${i}...\n`
      await sleep(200, undefined, { signal: environ['fastify.signal'] }).catch(() => {})
    }
    yield 'liftoff\n'
  } finally {
    // A normal end, so info level: what an app writes to wsgi.errors is logged as an error.
    environ['fastify.request'].log.info(`countdown from ${from} closed`)
  }
}
