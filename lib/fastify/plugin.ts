import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { AnyWsgiInput, StreamingWsgiApp, WsgiApp } from '../../types/protocol.js'
import type { HandlerSettings } from '../options.js'
import { runWsgi } from './run.js'
import {
  checkApp,
  defaultSettings,
  normalizeScriptName,
  resolveCallSettings,
  resolveSettings,
  type FastifyWsgiOptions,
  type ReplyWsgiOptions
} from '../options.js'
import { FST_WSGI_ALREADY_DECORATED } from '../errors.js'
import { validator } from '../wsgi/validate.js'
import { serverLifecycle } from '../connection/lifecycle.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Runs a WSGI-style app for this request. Errors before the response
     * started go to Fastify's error handler; the returned promise always
     * resolves, once the response is over.
     */
    wsgi(app: WsgiApp, options?: ReplyWsgiOptions & { input?: 'buffer' }): Promise<void>
    /** Runs an app that reads its body as a stream (`input: 'stream'`). */
    wsgi(app: StreamingWsgiApp, options: ReplyWsgiOptions & { input: 'stream' }): Promise<void>
  }
}

// The body stays raw for the app: no Fastify parser may consume it on a mount.
function passThroughParser (_request: FastifyRequest, payload: unknown, done: (err: null, body: unknown) => void): void {
  done(null, payload)
}

// reply.wsgi's defaults in a scope: the options of the registration without `app` in that scope or
// the nearest parent. Kept on the Fastify instance (a child scope's instance inherits from its
// parent's), and found from the reply through `reply.server`, the instance of the route's scope.
const kReplyWsgiSettings = Symbol('fastify-wsgi.replyWsgiSettings')

interface ScopeWithSettings { [kReplyWsgiSettings]?: HandlerSettings }

function decorateReply (fastify: FastifyInstance, librarySettings: HandlerSettings): void {
  fastify.decorateReply('wsgi', function wsgi (this: FastifyReply, appArgument: unknown, options?: ReplyWsgiOptions): Promise<void> {
    let app = checkApp('app', appArgument)
    let callSettings = (this.server as ScopeWithSettings)[kReplyWsgiSettings] ?? librarySettings
    if (options !== undefined) callSettings = resolveCallSettings(options, callSettings)
    if (callSettings.validate) app = validator(app)
    // Always a Promise, as typed: a sync response has already ended when it resolves.
    return Promise.resolve(runWsgi(this.request, this, app, callSettings))
  })
}

/** Mounts `app` for every method at the prefix and everything below it, in its own encapsulated scope. */
function mount (fastify: FastifyInstance, app: WsgiApp<AnyWsgiInput>, settings: HandlerSettings, prefix: string | undefined): void {
  fastify.register(async function fastifyWsgiMount (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', passThroughParser)
    const mountSettings = { ...settings, scriptName: normalizeScriptName('prefix', scope.prefix) }
    const handler = function wsgiMountHandler (request: FastifyRequest, reply: FastifyReply): void | Promise<void> {
      return runWsgi(request, reply, app, mountSettings)
    }
    const method = scope.supportedMethods
    scope.route({ method, url: '/', handler })
    scope.route({ method, url: '/*', handler })
  }, { prefix })
}

async function fastifyWsgiPlugin (fastify: FastifyInstance, options: FastifyWsgiOptions): Promise<void> {
  const app = options.app === undefined ? undefined : checkApp('app', options.app)
  // '/legacy/' mounts what '/legacy' does: Fastify would only route below the slash.
  const prefix = options.prefix === undefined ? undefined : normalizeScriptName('prefix', options.prefix)
  const librarySettings = defaultSettings(fastify.initialConfig.bodyLimit as number, serverLifecycle(fastify))
  const settings = resolveSettings(options, librarySettings)
  if (!fastify.hasReplyDecorator('wsgi')) decorateReply(fastify, librarySettings)
  if (app !== undefined) {
    mount(fastify, settings.validate ? validator(app) : app, settings, prefix)
    return
  }
  // fastify-plugin hands us the registering scope's own instance: an own property is this scope's.
  const scope = fastify as FastifyInstance & ScopeWithSettings
  if (Object.hasOwn(scope, kReplyWsgiSettings)) throw new FST_WSGI_ALREADY_DECORATED()
  scope[kReplyWsgiSettings] = settings
}

/** The fastify-wsgi plugin: mounts WSGI-style apps and decorates `reply.wsgi`. */
export const fastifyWsgi = fp(fastifyWsgiPlugin, { fastify: '5.x', name: 'fastify-wsgi' })
export default fastifyWsgi
