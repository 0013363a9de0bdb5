import type { AnyWsgiInput, WsgiApp, WsgiInput } from '../../types/protocol.js'
import { describeValue } from './values.js'
import { FST_WSGI_INVALID_OPTION } from '../errors.js'

/** WSGI middleware: takes an app, returns an app that wraps it. */
export type Middleware<Input extends AnyWsgiInput = WsgiInput> = (app: WsgiApp<Input>) => WsgiApp<Input>

/**
 * Stacks middleware the way Python code nests it: `compose(a, b, c)(app)` is
 * `a(b(c(app)))`, so a request passes through `a` first and the response
 * through `a` last.
 */
export function compose<Input extends AnyWsgiInput = WsgiInput> (...middlewares: Array<Middleware<Input>>): Middleware<Input> {
  middlewares.forEach((middleware, index) => {
    if (typeof middleware !== 'function') {
      throw new FST_WSGI_INVALID_OPTION(`compose() argument ${index + 1}`, `expected a middleware function (app) => app, got ${describeValue(middleware)}`)
    }
  })
  return (app) => middlewares.reduceRight((inner, middleware) => middleware(inner), app)
}
