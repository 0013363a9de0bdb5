import type { WsgiErrors } from '../../types/protocol.js'
import { describeValue, isThenable, isToken } from './values.js'
import { WsgiValidationError } from '../errors.js'

// The server's side of wsgiref.validate: the environ it builds, and the
// wsgi.input and wsgi.errors streams it offers (PEP 3333 "environ Variables",
// "Input and Error Streams").

const REQUIRED_KEYS = [
  'REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PORT', 'wsgi.version', 'wsgi.input', 'wsgi.errors',
  'wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once', 'wsgi.url_scheme'
]
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'OPTIONS', 'PATCH', 'PUT', 'DELETE', 'TRACE'])
const DIGITS = /^[0-9]+$/

/** Throws a WsgiValidationError: `rule` says what was broken, with which value. */
export function fail (rule: string): never {
  throw new WsgiValidationError(rule)
}

const warned = new Set<string>()

/** wsgiref.validate's WSGIWarning: a doubtful but legal environ, reported once per message. */
export function warn (message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  process.emitWarning(message, { type: 'WsgiWarning', code: 'FST_WSGI_VALIDATION_WARNING' })
}

/** Checks a value now, or once it resolves when it is a Promise (wsgi.input in stream mode). */
export function checkedResult<T> (value: T, check: (resolved: unknown) => void): T {
  if (!isThenable(value)) {
    check(value)
    return value
  }
  return value.then((resolved) => {
    check(resolved)
    return resolved
  }) as T
}

function checkStreamHasMethods (name: string, stream: unknown, methods: string[]): void {
  for (const method of methods) {
    if (typeof (stream as Record<string, unknown> | null)?.[method] !== 'function') {
      fail(`${name} (${describeValue(stream)}) has no ${method}() method`)
    }
  }
}

/** The environ the server built: required keys, their types, and PEP 3333's path rules. */
export function checkEnviron (environ: unknown): asserts environ is Record<string, unknown> {
  if (typeof environ !== 'object' || environ === null || Array.isArray(environ)) {
    fail(`environ must be a plain object, got ${describeValue(environ)}`)
  }
  const env = environ as Record<string, unknown>
  for (const key of REQUIRED_KEYS) {
    if (!(key in env)) fail(`environ is missing the required key ${key}`)
  }
  for (const [bad, good] of [['HTTP_CONTENT_TYPE', 'CONTENT_TYPE'], ['HTTP_CONTENT_LENGTH', 'CONTENT_LENGTH']]) {
    if (bad in env) fail(`environ must not have the key ${bad} (use ${good} instead)`)
  }
  if (!('QUERY_STRING' in env)) warn('QUERY_STRING is not in the environ; apps that parse it will see an empty query')
  for (const key of Object.keys(env)) {
    // Keys with a dot are extensions (wsgi.*, fastify.*) and may hold anything; CGI keys are strings.
    if (!key.includes('.') && typeof env[key] !== 'string') {
      fail(`environ key ${key} must be a string, got ${describeValue(env[key])}`)
    }
  }
  const version = env['wsgi.version']
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || version[1] !== 0) {
    fail(`environ['wsgi.version'] must be [1, 0], got ${describeValue(version)}`)
  }
  if (env['wsgi.url_scheme'] !== 'http' && env['wsgi.url_scheme'] !== 'https') {
    fail(`environ['wsgi.url_scheme'] must be 'http' or 'https', got ${describeValue(env['wsgi.url_scheme'])}`)
  }
  for (const key of ['wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once']) {
    if (typeof env[key] !== 'boolean') fail(`environ['${key}'] must be a boolean, got ${describeValue(env[key])}`)
  }
  checkStreamHasMethods("environ['wsgi.input']", env['wsgi.input'], ['read', 'readline', 'readlines'])
  const input = env['wsgi.input'] as Record<symbol, unknown>
  if (typeof input[Symbol.iterator] !== 'function' && typeof input[Symbol.asyncIterator] !== 'function') {
    fail(`environ['wsgi.input'] (${describeValue(input)}) is not iterable`)
  }
  checkStreamHasMethods("environ['wsgi.errors']", env['wsgi.errors'], ['write', 'writelines', 'flush'])
  checkCgiVariables(env as Record<string, string | undefined>)
}

function checkCgiVariables (env: Record<string, string | undefined>): void {
  const method = env.REQUEST_METHOD as string
  if (!isToken(method)) fail(`REQUEST_METHOD must be an HTTP method token, got ${describeValue(method)}`)
  if (!KNOWN_METHODS.has(method)) warn(`Unknown REQUEST_METHOD: ${JSON.stringify(method)}`)
  const scriptName = env.SCRIPT_NAME
  const pathInfo = env.PATH_INFO
  if (scriptName !== undefined && scriptName !== '' && scriptName[0] !== '/') {
    fail(`SCRIPT_NAME must be empty or start with '/', got ${describeValue(scriptName)}`)
  }
  // `OPTIONS *` asks about the server as a whole: its PATH_INFO is '*', as wsgiref's and gunicorn's servers give it.
  if (pathInfo !== undefined && pathInfo !== '' && pathInfo[0] !== '/' && !(pathInfo === '*' && method === 'OPTIONS')) {
    fail(`PATH_INFO must be empty or start with '/' (or be '*' for OPTIONS), got ${describeValue(pathInfo)}`)
  }
  if ((scriptName === undefined || scriptName === '') && pathInfo === undefined) {
    fail("one of SCRIPT_NAME or PATH_INFO is required (PATH_INFO should be at least '/' when SCRIPT_NAME is empty)")
  }
  if (scriptName === '/') fail("SCRIPT_NAME cannot be '/': it should be '', with PATH_INFO '/'")
  const contentLength = env.CONTENT_LENGTH
  if (contentLength !== undefined && contentLength !== '' && !DIGITS.test(contentLength)) {
    fail(`CONTENT_LENGTH must be a non-negative integer, got ${describeValue(contentLength)}`)
  }
}

function checkBytes (what: string, value: unknown): void {
  if (!Buffer.isBuffer(value)) fail(`${what} must return a Buffer, got ${describeValue(value)}`)
}

function checkSizeArgument (method: string, args: unknown[]): void {
  if (args.length > 1) fail(`wsgi.input.${method}() takes at most one argument, got ${args.length}`)
  const size = args[0]
  if (size !== undefined && size !== null && !Number.isInteger(size)) {
    fail(`wsgi.input.${method}() takes an integer size, got ${describeValue(size)}`)
  }
}

/**
 * wsgi.input as the app sees it under the validator: each call's arguments
 * and each return value (a Buffer, or a Promise of one in stream mode) are checked.
 */
export class InputWrapper {
  readonly #input: Record<string | symbol, (...args: unknown[]) => unknown>

  constructor (input: unknown) {
    this.#input = input as Record<string | symbol, (...args: unknown[]) => unknown>
    const inner = this.#input
    if (typeof inner[Symbol.iterator] === 'function') {
      Object.defineProperty(this, Symbol.iterator, { value: () => this.#lines(inner[Symbol.iterator]() as Iterator<unknown>) })
    }
    if (typeof inner[Symbol.asyncIterator] === 'function') {
      Object.defineProperty(this, Symbol.asyncIterator, { value: () => this.#asyncLines(inner[Symbol.asyncIterator]() as AsyncIterable<unknown>) })
    }
    if (typeof inner.chunks === 'function') {
      Object.defineProperty(this, 'chunks', { value: () => this.#asyncLines(inner.chunks() as AsyncIterable<unknown>, 'wsgi.input.chunks()') })
    }
  }

  read (...args: unknown[]): unknown {
    checkSizeArgument('read', args)
    return checkedResult(this.#input.read(...args), (data) => checkBytes('wsgi.input.read()', data))
  }

  readline (...args: unknown[]): unknown {
    checkSizeArgument('readline', args)
    return checkedResult(this.#input.readline(...args), (data) => checkBytes('wsgi.input.readline()', data))
  }

  readlines (...args: unknown[]): unknown {
    checkSizeArgument('readlines', args)
    return checkedResult(this.#input.readlines(...args), (lines) => {
      if (!Array.isArray(lines)) fail(`wsgi.input.readlines() must return an array of Buffers, got ${describeValue(lines)}`)
      for (const line of lines) checkBytes('wsgi.input.readlines()', line)
    })
  }

  close (): never {
    fail('wsgi.input.close() must not be called: the server owns the request body')
  }

  * #lines (iterator: Iterator<unknown>): Generator<unknown> {
    for (let step = iterator.next(); step.done !== true; step = iterator.next()) {
      checkBytes('iterating wsgi.input', step.value)
      yield step.value
    }
  }

  async * #asyncLines (source: AsyncIterable<unknown>, what = 'iterating wsgi.input'): AsyncGenerator<unknown> {
    for await (const data of source) {
      checkBytes(what, data)
      yield data
    }
  }
}

/** wsgi.errors under the validator: text only, and never closed by the app. */
export class ErrorsWrapper implements WsgiErrors {
  readonly #errors: WsgiErrors

  constructor (errors: unknown) {
    this.#errors = errors as WsgiErrors
  }

  write (...args: unknown[]): void {
    if (args.length !== 1) fail(`wsgi.errors.write() takes one argument, got ${args.length}`)
    if (typeof args[0] !== 'string') fail(`wsgi.errors.write() takes a string, got ${describeValue(args[0])}`)
    this.#errors.write(args[0])
  }

  writelines (...args: unknown[]): void {
    if (args.length !== 1) fail(`wsgi.errors.writelines() takes one argument, got ${args.length}`)
    const lines = args[0] as Iterable<unknown> | null
    if (typeof lines === 'string' || typeof lines?.[Symbol.iterator] !== 'function') {
      fail(`wsgi.errors.writelines() takes an iterable of strings, got ${describeValue(lines)}`)
    }
    for (const line of lines as Iterable<unknown>) this.write(line)
  }

  flush (...args: unknown[]): void {
    if (args.length !== 0) fail(`wsgi.errors.flush() takes no arguments, got ${args.length}`)
    this.#errors.flush()
  }

  close (): never {
    fail('wsgi.errors.close() must not be called: the server owns the error stream')
  }
}
