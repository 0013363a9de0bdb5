import type { AnyWsgiInput, Body, Environ, StartResponse, WriteCallable, WsgiApp, WsgiInput } from '../../types/protocol.js'
import { FileWrapper } from './file-wrapper.js'
import { headersObjectHint } from './response-checks.js'
import { describeValue, isThenable } from './values.js'
import { isHopByHop } from './util.js'
import { ErrorsWrapper, InputWrapper, checkEnviron, fail } from './validate-environ.js'

// The app's side of wsgiref.validate: what it passes to startResponse and
// write, and the body it returns; plus the server's duty to close that body.

const HEADER_NAME = /^[a-zA-Z][a-zA-Z0-9\-_]*$/
const CONTROL_CHAR = /[\x00-\x1f]/ // eslint-disable-line no-control-regex
const NO_MESSAGE_BODY = new Set([204, 304])

/** What the validator knows about one request while it runs. */
class RequestState {
  started = false
}

function checkStatus (status: unknown): number {
  if (typeof status !== 'string') fail(`the status must be a string, got ${describeValue(status)}`)
  const code = status.slice(0, 3)
  if (!/^[0-9]{3}$/.test(code)) fail(`the status must start with a three-digit code, got ${describeValue(status)}`)
  if (Number(code) < 100) fail(`the status code must be at least 100, got ${describeValue(status)}`)
  if (status.length < 5 || status[3] !== ' ') {
    fail(`the status must be a code, a space and a reason phrase, like "200 OK", got ${describeValue(status)}`)
  }
  if (CONTROL_CHAR.test(status)) fail(`the status must not contain control characters, got ${describeValue(status)}`)
  return Number(code)
}

// wsgiref.validate's rules, stricter than the handler's own checks (checkResponseHeaders) on purpose:
// they flag what PEP 3333 forbids or discourages even where the handler could send it.
function lintHeaders (headers: unknown): asserts headers is Array<[string, string]> {
  if (!Array.isArray(headers)) fail(`the headers must be an array of [name, value] pairs, got ${describeValue(headers)}${headersObjectHint(headers)}`)
  for (const header of headers) {
    if (!Array.isArray(header) || header.length !== 2) fail(`each header must be a [name, value] pair, got ${describeValue(header)}`)
    const [name, value] = header as unknown[]
    if (typeof name !== 'string') fail(`a header name must be a string, got ${describeValue(name)}`)
    if (typeof value !== 'string') fail(`the value of header ${name} must be a string, got ${describeValue(value)}`)
    if (name.toLowerCase() === 'status') {
      fail(`the Status header cannot be used: the status is startResponse's first argument (value: ${describeValue(value)})`)
    }
    if (!HEADER_NAME.test(name)) fail(`bad header name ${describeValue(name)}: a letter, then letters, digits, '-' or '_'`)
    if (name.endsWith('-') || name.endsWith('_')) fail(`header names may not end in '-' or '_', got ${describeValue(name)}`)
    if (isHopByHop(name)) fail(`hop-by-hop header ${describeValue(name)} is not allowed: the server manages the connection`)
    const bad = CONTROL_CHAR.exec(value)
    if (bad !== null) {
      fail(`bad value of header ${name}: ${describeValue(value)} (control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')})`)
    }
  }
}

function checkContentType (code: number, headers: Array<[string, string]>): void {
  const hasContentType = headers.some(([name]) => name.toLowerCase() === 'content-type')
  if (hasContentType && NO_MESSAGE_BODY.has(code)) {
    fail(`a Content-Type header was sent with a ${code} response, which has no content`)
  }
  if (!hasContentType && !NO_MESSAGE_BODY.has(code)) {
    fail(`no Content-Type header in a ${code} response: headers were ${describeValue(headers)}`)
  }
}

function lintChunk (what: string, chunk: unknown): void {
  if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
    fail(`${what} must be a Uint8Array or a string, got ${describeValue(chunk)}`)
  }
}

function checkedStartResponse (startResponse: StartResponse, state: RequestState): StartResponse {
  return function validatedStartResponse (...args: unknown[]): WriteCallable {
    if (args.length !== 2 && args.length !== 3) fail(`startResponse takes 2 or 3 arguments (status, headers, excInfo?), got ${args.length}`)
    const [status, headers, excInfo] = args
    const code = checkStatus(status)
    lintHeaders(headers)
    checkContentType(code, headers)
    const excInfoGiven = excInfo !== undefined
    if (excInfoGiven && !(excInfo instanceof Error)) fail(`excInfo must be the Error the app caught, got ${describeValue(excInfo)}`)
    if (state.started && !excInfoGiven) fail('startResponse was called a second time without excInfo')
    state.started = true
    const write = (startResponse as (...args: unknown[]) => WriteCallable)(...args)
    if (typeof write !== 'function') fail(`startResponse must return the write callable, got ${describeValue(write)}`)
    return function validatedWrite (...chunks: unknown[]): void {
      if (chunks.length !== 1) fail(`write() takes one chunk, got ${chunks.length} arguments`)
      lintChunk('the chunk passed to write()', chunks[0])
      write(chunks[0] as string)
    }
  }
}

const unclosedBodies = new FinalizationRegistry<string>((description) => {
  process.emitWarning(`The server never called close() on the body ${description}`, {
    type: 'WsgiValidationError', code: 'FST_WSGI_VALIDATION'
  })
})

/**
 * Tracks the server's duty to call close() exactly once on the returned
 * body, and forwards the call to the app's own close().
 */
class BodyTracker {
  closed = false
  readonly #description: string
  readonly #close: (() => void) | undefined

  constructor (body: Body, owner: object) {
    this.#description = describeValue(body)
    this.#close = typeof body.close === 'function' ? body.close.bind(body) : undefined
    unclosedBodies.register(owner, this.#description, this)
  }

  close (): void {
    if (this.closed) fail(`the server called close() twice on the body ${this.#description}`)
    this.closed = true
    unclosedBodies.unregister(this)
    this.#close?.()
  }

  checkOpen (): void {
    if (this.closed) fail(`the server read the body ${this.#description} after closing it`)
  }
}

function checkIteratedChunk (state: RequestState, tracker: BodyTracker, chunk: unknown): void {
  lintChunk('each chunk of the body', chunk)
  if (!state.started) fail('the server got a chunk of the body, but the app has not called startResponse yet')
  tracker.checkOpen()
}

/** A sync iterable body: every chunk the server pulls is checked. */
function wrapIterable (body: Iterable<unknown> & Body, state: RequestState): Body {
  const iterator = body[Symbol.iterator]()
  const wrapper = {
    [Symbol.iterator] () { return this },
    next (): IteratorResult<unknown> {
      tracker.checkOpen()
      const step = iterator.next()
      if (step.done !== true) checkIteratedChunk(state, tracker, step.value)
      return step
    },
    return (value?: unknown): IteratorResult<unknown> {
      return iterator.return?.(value) ?? { done: true, value }
    },
    close () { tracker.close() }
  }
  const tracker = new BodyTracker(body, wrapper)
  return wrapper as unknown as Body
}

/** An async iterable body (async generator, Node Readable): the same checks, per awaited chunk. */
function wrapAsyncIterable (body: AsyncIterable<unknown> & Body, state: RequestState): Body {
  const iterator = body[Symbol.asyncIterator]()
  const wrapper = {
    [Symbol.asyncIterator] () { return this },
    async next (): Promise<IteratorResult<unknown>> {
      tracker.checkOpen()
      const step = await iterator.next()
      if (step.done !== true) checkIteratedChunk(state, tracker, step.value)
      return step
    },
    async return (value?: unknown): Promise<IteratorResult<unknown>> {
      return await iterator.return?.(value) ?? { done: true, value }
    },
    close () { tracker.close() }
  }
  const tracker = new BodyTracker(body, wrapper)
  return wrapper as unknown as Body
}

/**
 * The body the app returned, checked and wrapped. Arrays stay arrays and
 * file wrappers stay file wrappers, so the server treats them exactly as it
 * would without the validator (Content-Length for one chunk, file fast path).
 */
function checkBody (body: unknown, state: RequestState): Body {
  if (body === null || body === undefined) {
    fail(`the app must return an iterable body (an empty array if there is nothing to send), got ${describeValue(body)}`)
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    fail(`the app must not return a bare ${typeof body === 'string' ? 'string' : 'Uint8Array'} as its body: return [chunk]`)
  }
  const candidate = body as Body & Record<symbol, unknown>
  if (Array.isArray(candidate)) {
    for (const chunk of candidate) lintChunk('each chunk of the body', chunk)
    if (candidate.length > 0 && !state.started) fail('the app returned a body without calling startResponse')
    const array = [...candidate] as unknown[] & Body
    const tracker = new BodyTracker(candidate, array)
    array.close = () => { tracker.close() }
    return array
  }
  if (candidate instanceof FileWrapper) {
    const tracker = new BodyTracker(candidate, candidate)
    candidate.close = () => { tracker.close() }
    return candidate
  }
  if (typeof candidate[Symbol.asyncIterator] === 'function') return wrapAsyncIterable(candidate as AsyncIterable<unknown> & Body, state)
  if (typeof candidate[Symbol.iterator] === 'function') return wrapIterable(candidate as Iterable<unknown> & Body, state)
  return fail(`the app must return an iterable or async iterable of chunks, got ${describeValue(body)}`)
}

/**
 * wsgiref.validate's validator: wraps `app` so that every call checks both
 * sides of the protocol — the environ, wsgi.input and wsgi.errors the server
 * provides, and the status, headers, write() calls and body the app produces,
 * including that the server closes the body exactly once. A broken rule
 * throws a WsgiValidationError naming the rule and the value. For development
 * and tests: it costs time on every request.
 */
export function validator<Input extends AnyWsgiInput = WsgiInput> (app: WsgiApp<Input>): WsgiApp<Input> {
  if (typeof app !== 'function') fail(`validator() takes a WSGI app function, got ${describeValue(app)}`)
  return function validatedApp (...args: unknown[]): Body | Promise<Body> {
    if (args.length !== 2) fail(`the app must be called with two arguments (environ, startResponse), got ${args.length}`)
    const [environ, startResponse] = args
    checkEnviron(environ)
    if (typeof startResponse !== 'function') fail(`startResponse must be a function, got ${describeValue(startResponse)}`)
    environ['wsgi.input'] = new InputWrapper(environ['wsgi.input'])
    environ['wsgi.errors'] = new ErrorsWrapper(environ['wsgi.errors'])
    const state = new RequestState()
    const body = app(environ as unknown as Environ<Input>, checkedStartResponse(startResponse as StartResponse, state))
    return isThenable(body) ? body.then((resolved) => checkBody(resolved, state)) : checkBody(body, state)
  }
}
