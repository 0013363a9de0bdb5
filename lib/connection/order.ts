import type { Socket } from 'node:net'

// What an HTTP/1 connection tells the next request's app: nothing (run now), a Promise that
// resolves once the app of a request before it started (RFC 9112 §9.3.2: side effects keep
// request order), or CLOSING once an answer on it said the connection closes — no later request
// received on it may be processed (RFC 9112 §9.6). Fastify starts a pipelined request as soon as
// it is parsed, so the order is kept here. HTTP/2 streams are independent: no state there.
// CLOSING is only set while the answering request's body is still arriving, so no later request
// is parsed, let alone waiting, by then: each is turned away as it comes.
const kOrder = Symbol('fastify-wsgi.connectionOrder')
export const CLOSING = 'closing'

export type ConnectionOrder = Promise<void> | typeof CLOSING | undefined
type OrderedSocket = Socket & { [kOrder]?: ConnectionOrder }

/** The state of the connection, as the next request's app finds it. */
export function connectionOrder (socket: Socket): ConnectionOrder {
  return (socket as OrderedSocket)[kOrder]
}

/** While an app waits, the next one waits for `appStarted` (unless the connection is closing). */
export function waitForApp (socket: Socket, appStarted: Promise<void>): void {
  if ((socket as OrderedSocket)[kOrder] !== CLOSING) (socket as OrderedSocket)[kOrder] = appStarted
}

/** That app started: the next one need not wait (unless the state changed since). */
export function doneWaiting (socket: Socket, appStarted: Promise<void>): void {
  if ((socket as OrderedSocket)[kOrder] === appStarted) (socket as OrderedSocket)[kOrder] = undefined
}

/** An answer on the connection says it closes: no app of a later request on it runs. */
export function markClosing (socket: Socket): void {
  (socket as OrderedSocket)[kOrder] = CLOSING
}
