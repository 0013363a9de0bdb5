import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * Fastify's own per-request state, read where its public API has no getter
 * and knowing it keeps work off the common path. Each key is one of Fastify's
 * symbols, found by its description on the first object that has it. Should
 * Fastify rename or move one, the reader returns undefined and its caller
 * takes the path that works without it (slower, still right); tests pin each
 * to the Fastify behaviour it stands for.
 */
function ownSymbolReader (description: string): (holder: object) => unknown {
  let key: symbol | undefined
  return (holder) => {
    key ??= Object.getOwnPropertySymbols(holder).find((symbol) => symbol.description === description)
    return key === undefined ? undefined : (holder as Record<symbol, unknown>)[key]
  }
}

/** The headers set with reply.header() (kReplyHeaders, an own property of every reply). */
export const replyHeaderStore: (reply: FastifyReply) => unknown = ownSymbolReader('fastify.reply.headers')
const replySerializer = ownSymbolReader('fastify.reply.serializer')
const routeContext = ownSymbolReader('fastify.context')

/** Whether no onSend hook is on the request's route (its route context says so), so none can see the payload: false when unknown. */
export function routeHasNoOnSendHooks (request: FastifyRequest): boolean {
  return (routeContext(request) as { onSend?: unknown } | undefined)?.onSend === null
}

/** Whether no reply.serializer() was set, so reply.send leaves a string payload unserialized: false when unknown. */
export function replyHasNoSerializer (reply: FastifyReply): boolean {
  return replySerializer(reply) === null
}

/**
 * Whether the request's route answers errors with Fastify's default handler,
 * whose 500 body carries the error's message: neither the route's own
 * errorHandler nor a setErrorHandler of its scope. The route context holds
 * the route's; the instance's public getter tells the scope's when it is not found.
 */
export function usesFastifyErrorPage (request: FastifyRequest): boolean {
  const handler = (routeContext(request) as { errorHandler?: { func?: unknown } } | undefined)?.errorHandler?.func ?? request.server.errorHandler
  return typeof handler === 'function' && handler.name === 'defaultErrorHandler'
}
