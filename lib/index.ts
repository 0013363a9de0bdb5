export type {
  AnyWsgiInput, Body, Chunk, Environ, FileWrapperFactory, ResponseHeader, StartResponse, StreamingWsgiApp, WriteCallable,
  WsgiApp, WsgiErrors, WsgiInput, WsgiStreamInput
} from '../types/protocol.js'
export type { FastifyWsgiOptions, ReplyWsgiOptions, WsgiRunOptions } from './options.js'
export { BaseHandler } from './wsgi/handler.js'
export { CGIHandler, SimpleHandler, type SimpleHandlerOptions } from './wsgi/simple-handler.js'
export { FileWrapper } from './wsgi/file-wrapper.js'
export { applicationUri, formatDateTime, guessScheme, isHopByHop, requestUri, setupTestingDefaults, shiftPathInfo } from './wsgi/util.js'
export { Headers } from './wsgi/headers.js'
export { compose, type Middleware } from './wsgi/compose.js'
export { validator } from './wsgi/validate.js'
export { WsgiValidationError } from './errors.js'
export { wsgiRewriteUrl } from './fastify/rewrite-url.js'
export { wsgiClientErrorHandler } from './server/client-error.js'
export * as errors from './errors.js'
export { VERSION } from './version.js'
export { fastifyWsgi, default } from './fastify/plugin.js'
export { makeServer, type MakeServerOptions, type ServeOptions, type WsgiServer } from './server/make-server.js'
