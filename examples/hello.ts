// The smallest WSGI app: what `def application(environ, start_response)` becomes.
import type { WsgiApp } from 'fastify-wsgi'

export const hello: WsgiApp = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']])
  return [`Hello from ${environ.SCRIPT_NAME}${environ.PATH_INFO}\n`]
}
