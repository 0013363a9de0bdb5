import cluster from 'node:cluster'
import type { AnyWsgiInput, FileWrapperFactory, StreamingWsgiApp, WsgiApp } from '../types/protocol.js'
import { fileWrapper } from './wsgi/file-wrapper.js'
import { describeValue } from './wsgi/values.js'
import { FST_WSGI_INVALID_OPTION } from './errors.js'
import { SERVER_SOFTWARE } from './version.js'
import type { ServerLifecycle } from './connection/lifecycle.js'
import { DEFAULT_LINGERING } from './connection/lingering-close.js'

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

export function invalid (name: string, expected: string, value: unknown): never {
  throw new FST_WSGI_INVALID_OPTION(name, `expected ${expected}, got ${describeValue(value)}`)
}

/** What an option's first value may depend on: the Fastify instance it is registered on. */
interface RegistrationContext {
  /** Fastify's own bodyLimit. */
  bodyLimit: number
}

/** One option, described once: how a given value is checked, and its value when none is given. */
interface OptionRule<T> {
  /** Checks a value the user gave (never `undefined`) and returns what the settings keep. */
  check: (value: unknown, name: string) => T
  /** The library's default, before any registration sets the option. */
  initial: (context: RegistrationContext) => T
  /** Also one of Fastify's own options: makeServer hands it to Fastify, and the plugin's default follows Fastify's. */
  fastifyOption?: true
  /** `null` counts as not given (the option keeps the value it had). */
  nullMeansUnset?: true
}

function oneOf<T extends string> (allowed: readonly T[], initial: T): OptionRule<T> {
  return {
    check (value, name) {
      if (!allowed.includes(value as T)) invalid(name, allowed.map((v) => `'${v}'`).join(' or '), value)
      return value as T
    },
    initial: () => initial
  }
}

function checkBoolean (value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') invalid(name, 'a boolean', value)
  return value
}

function boolean (initial: boolean | (() => boolean)): OptionRule<boolean> {
  return { check: checkBoolean, initial: typeof initial === 'function' ? initial : () => initial }
}

function checkCount (value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) invalid(name, 'a non-negative integer', value)
  return value as number
}

function count (initial: number): OptionRule<number> {
  return { check: checkCount, initial: () => initial }
}

/**
 * Every option of WsgiRunOptions, once: the registration, reply.wsgi, makeServer and the settings
 * below all follow this table. (TypeScript requires one rule per option, and no rule for another name.)
 */
const RUN_OPTIONS: { readonly [Name in keyof WsgiRunOptions]-?: OptionRule<RunSettingValue<Name>> } = {
  serverSoftware: {
    check (value, name) {
      if (value !== false && (typeof value !== 'string' || value === '')) invalid(name, 'a non-empty string or false', value)
      return value as string | false
    },
    initial: () => SERVER_SOFTWARE
  },
  input: oneOf(['buffer', 'stream'], 'buffer'),
  bodyLimit: { check: checkCount, initial: (context) => context.bodyLimit, fastifyOption: true, nullMeansUnset: true },
  pathEncoding: oneOf(['latin1', 'utf8'], 'latin1'),
  dropUnderscoreHeaders: boolean(true),
  baseEnviron: {
    check (value, name) {
      if (typeof value !== 'object' || Array.isArray(value)) invalid(name, 'a plain object', value)
      return value as Record<string, unknown>
    },
    initial: () => null,
    nullMeansUnset: true
  },
  multiprocess: boolean(() => cluster.isWorker),
  validate: boolean(false),
  onSendHooks: boolean(false),
  signal: boolean(false),
  lingeringTime: count(DEFAULT_LINGERING.lingeringTime),
  lingeringLimit: count(DEFAULT_LINGERING.lingeringLimit)
}

/** What the settings keep of an option: its type without `undefined` (baseEnviron: null when not given). */
type RunSettingValue<Name extends keyof WsgiRunOptions> = Name extends 'baseEnviron'
  ? Record<string, unknown> | null
  : Exclude<WsgiRunOptions[Name], undefined>

/** The resolved value of every run option. */
export type RunSettings = { [Name in keyof WsgiRunOptions]-?: RunSettingValue<Name> }

/** Per-mount (or per reply.wsgi call) settings: the run options resolved, and what the registration adds. */
export interface HandlerSettings extends RunSettings {
  /** Where the app is mounted: SCRIPT_NAME, the part of the decoded path it covers. */
  scriptName: string
  fileWrapper: FileWrapperFactory
  /** Whether the server is closing: HTTP/1.x connections then close after their response. */
  lifecycle: ServerLifecycle
}

/** The names of the run options, in the table's order. */
export const RUN_OPTION_NAMES = Object.keys(RUN_OPTIONS) as ReadonlyArray<keyof WsgiRunOptions>

/** The run options that are the plugin's alone: what makeServer hands the plugin rather than Fastify. */
export const PLUGIN_ONLY_OPTIONS: ReadonlySet<string> = new Set(RUN_OPTION_NAMES.filter((name) => RUN_OPTIONS[name].fastifyOption !== true))

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
 * passes options), and resolves them into the settings the handler uses: an
 * option not given keeps its value in `defaults`.
 */
export function resolveSettings (options: WsgiRunOptions, defaults: HandlerSettings): HandlerSettings {
  const settings = { ...defaults }
  for (const name of RUN_OPTION_NAMES) {
    const value = options[name]
    const rule = RUN_OPTIONS[name]
    if (value !== undefined && (value !== null || rule.nullMeansUnset !== true)) (settings as Record<string, unknown>)[name] = rule.check(value, name)
  }
  return settings
}

/** The settings of one reply.wsgi call: the scope's, with the call's options and its scriptName. */
export function resolveCallSettings (options: ReplyWsgiOptions, defaults: HandlerSettings): HandlerSettings {
  const settings = resolveSettings(options, defaults)
  if (options.scriptName !== undefined) settings.scriptName = normalizeScriptName('scriptName', options.scriptName)
  return settings
}

/** The settings of a registration before its options apply. */
export function defaultSettings (bodyLimit: number, lifecycle: ServerLifecycle): HandlerSettings {
  const context: RegistrationContext = { bodyLimit }
  const settings: Record<string, unknown> = { scriptName: '', fileWrapper, lifecycle }
  for (const name of RUN_OPTION_NAMES) settings[name] = RUN_OPTIONS[name].initial(context)
  return settings as unknown as HandlerSettings
}
