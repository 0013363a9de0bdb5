import cluster from 'node:cluster'
import type { AnyWsgiInput, StreamingWsgiApp, WsgiApp } from '../types/protocol.js'
import type { HandlerSettings } from './fastify-handler.js'
import { fileWrapper } from './file-wrapper.js'
import { describeValue } from './response-checks.js'
import { FST_WSGI_INVALID_OPTION } from './errors.js'
import { VERSION } from './version.js'
import type { ServerLifecycle } from './lifecycle.js'
import { DEFAULT_LINGERING } from './lingering-close.js'

/** Options that shape how an app is run; accepted at registration and per reply.wsgi call. */
export interface WsgiRunOptions {
  /** The Server header and SERVER_SOFTWARE; `false` sends no Server header. Default `fastify-wsgi/<version>`. */
  serverSoftware?: string | false
  /**
   * How wsgi.input is offered. `'buffer'` (default): the body is read first,
   * then offered synchronously. `'stream'`: the app runs at once and reads the
   * body as it arrives, through Promises.
   */
  input?: 'buffer' | 'stream'
  /** Largest request body in bytes; larger ones get 413 before the app runs. Default: Fastify's bodyLimit. */
  bodyLimit?: number
  /** `'latin1'` (default, PEP 3333): PATH_INFO bytes as latin-1 characters; `'utf8'`: decoded as UTF-8 text. */
  pathEncoding?: 'latin1' | 'utf8'
  /** Drop request headers whose names contain `_` (default true): they would collide with their `-` twins. */
  dropUnderscoreHeaders?: boolean
  /** Extra keys copied into every environ; the request's own keys win. */
  baseEnviron?: Record<string, unknown>
  /** `wsgi.multiprocess`. Default: true inside a node:cluster worker. */
  multiprocess?: boolean
  /** Wrap the app in `validator` (wsgiref.validate): every request checks both sides of the protocol. For development and tests. Default false. */
  validate?: boolean
  /**
   * Send the response through `reply.send` so Fastify's onSend hooks (compression, ETag) see it.
   * Default false: the response is written on `reply.raw`, which is faster.
   */
  onSendHooks?: boolean
  /**
   * Put `fastify.signal` in the environ: an AbortSignal aborted when the client goes away before
   * the response is complete. Default false, as it costs every request; Fastify's own
   * `environ['fastify.request'].signal` is always there (it also aborts once the request is over).
   */
  signal?: boolean
  /**
   * Milliseconds a connection closed after an answer given while the request body was still
   * arriving (a 413...) keeps reading and discarding that body, so the client reads the answer
   * instead of a reset (nginx's lingering_close). Default 2000; 0 closes at once.
   */
  lingeringTime?: number
  /** Bytes such a connection reads and discards at most. Default 16 MiB; 0 closes at once. */
  lingeringLimit?: number
}

/** The names of WsgiRunOptions but bodyLimit (whose default is Fastify's own option): what makeServer hands the plugin. */
export const PLUGIN_ONLY_OPTIONS: ReadonlySet<string> = new Set<keyof WsgiRunOptions>([
  'serverSoftware', 'input', 'pathEncoding', 'dropUnderscoreHeaders', 'baseEnviron', 'multiprocess', 'validate', 'onSendHooks', 'signal',
  'lingeringTime', 'lingeringLimit'
])

interface MountOptions extends WsgiRunOptions {
  /** Fastify's route prefix: the mount point, and the app's SCRIPT_NAME. */
  prefix?: string
}

/** Options of `fastify.register(fastifyWsgi, options)`; `app` is typed by the `input` mode. */
export type FastifyWsgiOptions =
  | (MountOptions & {
    input?: 'buffer'
    /** The app to mount at `prefix` (every method, the prefix and everything below it). */
    app?: WsgiApp
  })
  | (MountOptions & { input: 'stream', app?: StreamingWsgiApp })

/** Options of one `reply.wsgi(app, options)` call. */
export interface ReplyWsgiOptions extends WsgiRunOptions {
  /** SCRIPT_NAME for this call: a leading part of the request path (default `''`: PATH_INFO is the whole path). */
  scriptName?: string
}

const DEFAULT_SERVER_SOFTWARE = `fastify-wsgi/${VERSION}`

export function invalid (name: string, expected: string, value: unknown): never {
  throw new FST_WSGI_INVALID_OPTION(name, `expected ${expected}, got ${describeValue(value)}`)
}

function oneOf<T extends string> (name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) invalid(name, allowed.map((v) => `'${v}'`).join(' or '), value)
  return value as T
}

function boolean (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') invalid(name, 'a boolean', value)
  return value
}

function count (name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 0) invalid(name, 'a non-negative integer', value)
  return value as number
}

/**
 * Validates the app option (registration) or the app argument (reply.wsgi).
 * Which wsgi.input the app gets is decided by the input mode, at run time.
 */
export function checkApp (name: string, app: unknown): WsgiApp<AnyWsgiInput> {
  if (typeof app !== 'function') invalid(name, 'a WSGI app function (environ, startResponse) => body', app)
  return app as WsgiApp<AnyWsgiInput>
}

/** A SCRIPT_NAME: empty, or a path starting with `/` without a trailing slash. */
export function normalizeScriptName (name: string, value: unknown): string {
  if (typeof value !== 'string' || (value !== '' && value[0] !== '/')) invalid(name, "a path starting with '/'", value)
  return value.endsWith('/') ? value.replace(/\/+$/, '') : value
}

/**
 * Validates options once, at registration (or once per reply.wsgi call that
 * passes options), and resolves them into the settings the handler uses.
 */
export function resolveSettings (options: WsgiRunOptions, defaults: HandlerSettings): HandlerSettings {
  const serverSoftware = options.serverSoftware
  if (serverSoftware !== undefined && serverSoftware !== false && (typeof serverSoftware !== 'string' || serverSoftware === '')) {
    invalid('serverSoftware', 'a non-empty string or false', serverSoftware)
  }
  const bodyLimit = options.bodyLimit ?? defaults.bodyLimit
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 0) invalid('bodyLimit', 'a non-negative integer', bodyLimit)
  const baseEnviron = options.baseEnviron ?? defaults.baseEnviron
  if (baseEnviron !== null && (typeof baseEnviron !== 'object' || Array.isArray(baseEnviron))) {
    invalid('baseEnviron', 'a plain object', baseEnviron)
  }
  return {
    scriptName: defaults.scriptName,
    serverSoftware: serverSoftware === undefined ? defaults.serverSoftware : serverSoftware === false ? DEFAULT_SERVER_SOFTWARE : serverSoftware,
    serverSoftwareHeader: serverSoftware === undefined ? defaults.serverSoftwareHeader : serverSoftware,
    bodyLimit,
    input: oneOf('input', options.input, ['buffer', 'stream'], defaults.input),
    pathEncoding: oneOf('pathEncoding', options.pathEncoding, ['latin1', 'utf8'], defaults.pathEncoding),
    dropUnderscoreHeaders: boolean('dropUnderscoreHeaders', options.dropUnderscoreHeaders, defaults.dropUnderscoreHeaders),
    baseEnviron,
    multiprocess: boolean('multiprocess', options.multiprocess, defaults.multiprocess),
    validate: boolean('validate', options.validate, defaults.validate),
    onSendHooks: boolean('onSendHooks', options.onSendHooks, defaults.onSendHooks),
    signal: boolean('signal', options.signal, defaults.signal),
    lingeringTime: count('lingeringTime', options.lingeringTime, defaults.lingeringTime),
    lingeringLimit: count('lingeringLimit', options.lingeringLimit, defaults.lingeringLimit),
    fileWrapper: defaults.fileWrapper,
    lifecycle: defaults.lifecycle
  }
}

/** The settings of a registration before its options apply. */
export function defaultSettings (bodyLimit: number, lifecycle: ServerLifecycle): HandlerSettings {
  return {
    scriptName: '',
    serverSoftware: DEFAULT_SERVER_SOFTWARE,
    serverSoftwareHeader: DEFAULT_SERVER_SOFTWARE,
    bodyLimit,
    input: 'buffer',
    pathEncoding: 'latin1',
    dropUnderscoreHeaders: true,
    baseEnviron: null,
    multiprocess: cluster.isWorker,
    validate: false,
    onSendHooks: false,
    signal: false,
    ...DEFAULT_LINGERING,
    fileWrapper,
    lifecycle
  }
}
