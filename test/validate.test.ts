// validator (wsgiref.validate): one case per rule, for an app breaking it and for a server
// breaking it (a hand-made bad environ or input), plus the `validate` option on real sockets.
import { test, type Test } from 'tap'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { request } from 'undici'
import fastifyWsgi, {
  Headers, setupTestingDefaults, validator, WsgiValidationError,
  type Body, type Environ, type ResponseHeader, type StartResponse, type WsgiApp, type WsgiInput
} from '../lib/index.js'
import { BufferedInput } from '../lib/wsgi/input.js'
import { createServer, listenWithMount } from './helpers/server.js'

const TEXT: Array<[string, string]> = [['Content-Type', 'text/plain']]

function makeEnviron (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const environ: Record<string, unknown> = { QUERY_STRING: '', ...overrides }
  setupTestingDefaults(environ)
  return environ
}

/** A server-side startResponse that records its calls and returns a write callable. */
function recorder (): { startResponse: StartResponse, calls: unknown[][], written: unknown[] } {
  const calls: unknown[][] = []
  const written: unknown[] = []
  const startResponse = (...args: unknown[]): ((chunk: unknown) => void) => {
    calls.push(args)
    return (chunk) => { written.push(chunk) }
  }
  return { startResponse: startResponse as unknown as StartResponse, calls, written }
}

/** Runs the validated app as a server would: call, iterate, close. */
function serve (app: WsgiApp, environ = makeEnviron()): unknown[] {
  const { startResponse } = recorder()
  const body = validator(app)(environ as unknown as Environ, startResponse) as Body & Iterable<unknown>
  try {
    return [...body]
  } finally {
    body.close?.()
  }
}

const rule = (message: RegExp): { code: string, message: RegExp } => ({ code: 'FST_WSGI_VALIDATION', message })

const respond = (status: unknown, headers: unknown, body: unknown = ['x']): WsgiApp => (_environ, startResponse) => {
  (startResponse as unknown as (...args: unknown[]) => void)(status, headers)
  return body as Body
}

test('validator() takes an app function', async (t) => {
  t.throws(() => validator('app' as unknown as WsgiApp), rule(/takes a WSGI app function, got "app"/))
})

test('WsgiValidationError is an Error with code FST_WSGI_VALIDATION and status 500', async (t) => {
  const err = new WsgiValidationError('some rule')
  t.ok(err instanceof Error)
  t.ok(err instanceof WsgiValidationError)
  t.equal(err.code, 'FST_WSGI_VALIDATION')
  t.equal(err.statusCode, 500)
  t.equal(err.message, 'WSGI validation: some rule')
})

test('a well-behaved app passes, its chunks and close() go through', async (t) => {
  let closes = 0
  const chunks = serve((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return Object.assign((function * () { yield 'a'; yield Buffer.from('b') })(), { close: () => { closes++ } })
  })
  t.same(chunks, ['a', Buffer.from('b')])
  t.equal(closes, 1)
})

// The app's side: startResponse, write() and the body.
const appBreaks: Array<[string, WsgiApp, RegExp]> = [
  ['a status that is not a string', respond(200, TEXT), /the status must be a string, got number 200/],
  ['a status code of two digits', respond('20 OK', TEXT), /three-digit code, got "20 OK"/],
  ['a status code below 100', respond('099 Low', TEXT), /at least 100, got "099 Low"/],
  ['a status without a reason phrase', respond('200', TEXT), /a code, a space and a reason phrase.*got "200"/],
  ['a status without the space', respond('200OK', TEXT), /got "200OK"/],
  ['a status with CR/LF', respond('200 OK\r\nX: y', TEXT), /control characters/],
  ['headers that are not an array', respond('200 OK', { 'Content-Type': 'text/plain' }), /array of \[name, value\] pairs, got object Object/],
  ['a header that is not a pair', respond('200 OK', [['Content-Type', 'text/plain', 'x']]), /a \[name, value\] pair, got \["Content-Type", "text\/plain", "x"\]/],
  ['a header name that is not a string', respond('200 OK', [...TEXT, [1, 'x']]), /header name must be a string, got number 1/],
  ['a header value that is not a string', respond('200 OK', [...TEXT, ['X-N', 1]]), /value of header X-N must be a string, got number 1/],
  ['a Status header', respond('200 OK', [...TEXT, ['Status', '404 Not Found']]), /Status header cannot be used/],
  ['a header name with a space', respond('200 OK', [...TEXT, ['X Foo', 'x']]), /bad header name "X Foo"/],
  ['a header name starting with a digit', respond('200 OK', [...TEXT, ['1X', 'x']]), /bad header name "1X"/],
  ['a header name ending in -', respond('200 OK', [...TEXT, ['X-', 'x']]), /may not end in '-' or '_', got "X-"/],
  ['a hop-by-hop header', respond('200 OK', [...TEXT, ['Connection', 'close']]), /hop-by-hop header "Connection"/],
  ['a header value with LF', respond('200 OK', [...TEXT, ['X-A', 'a\nb']]), /bad value of header X-A: "a\\nb" \(control character U\+000a\)/],
  ['a 200 without Content-Type', respond('200 OK', []), /no Content-Type header in a 200 response/],
  ['a 204 with Content-Type', respond('204 No Content', TEXT, []), /Content-Type header was sent with a 204 response/],
  ['a 304 with Content-Type', respond('304 Not Modified', TEXT, []), /Content-Type header was sent with a 304 response/],
  ['startResponse with one argument', (_environ, startResponse) => {
    (startResponse as unknown as (...args: unknown[]) => void)('200 OK')
    return []
  }, /takes 2 or 3 arguments .* got 1/],
  ['an excInfo that is not an Error', (_environ, startResponse) => {
    startResponse('200 OK', TEXT, 'oops')
    return []
  }, /excInfo must be the Error the app caught, got "oops"/],
  ['a second startResponse without excInfo', (_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    startResponse('500 Error', TEXT)
    return []
  }, /called a second time without excInfo/],
  ['write() with two chunks', (_environ, startResponse) => {
    (startResponse('200 OK', TEXT) as unknown as (...args: unknown[]) => void)('a', 'b')
    return []
  }, /write\(\) takes one chunk, got 2 arguments/],
  ['write() with a number', (_environ, startResponse) => {
    startResponse('200 OK', TEXT)(42 as unknown as string)
    return []
  }, /chunk passed to write\(\) must be a Uint8Array or a string, got number 42/],
  ['a null body', respond('200 OK', TEXT, null), /must return an iterable body .* got null/],
  ['a bare string body', respond('200 OK', TEXT, 'hello'), /bare string as its body: return \[chunk\]/],
  ['a bare Buffer body', respond('200 OK', TEXT, Buffer.from('hello')), /bare Uint8Array as its body/],
  ['a body that is not iterable', respond('200 OK', TEXT, { length: 1 }), /iterable or async iterable of chunks, got object Object/],
  ['a Headers object as the header list', (_environ, startResponse) => {
    startResponse('200 OK', new Headers(TEXT) as unknown as ResponseHeader[])
    return []
  }, /array of \[name, value\] pairs, got object Headers; for a Headers object, pass headers\.list/],
  ['an array with a number in it', respond('200 OK', TEXT, ['a', 1]), /each chunk of the body must be .* got number 1/],
  ['a generator yielding a number', respond('200 OK', TEXT, (function * () { yield 1 })()), /each chunk of the body must be .* got number 1/],
  ['an array returned before startResponse', () => ['x'], /returned a body without calling startResponse/],
  ['a generator yielding before startResponse', () => (function * () { yield 'x' })(), /got a chunk of the body, but the app has not called startResponse/]
]

for (const [name, app, message] of appBreaks) {
  test(`app: ${name} fails with the rule named`, async (t) => {
    t.throws(() => serve(app), rule(message))
  })
}

test('app: a generator may call startResponse before its first chunk', async (t) => {
  const app: WsgiApp = (_environ, startResponse) => (function * () {
    startResponse('200 OK', TEXT)
    yield 'late but fine'
  })()
  t.same(serve(app), ['late but fine'])
})

test('app: startResponse with excInfo may replace the headers', async (t) => {
  const { startResponse, calls } = recorder()
  const body = validator((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    startResponse('500 Error', TEXT, new Error('caught'))
    return ['failed']
  })(makeEnviron() as unknown as Environ, startResponse) as Body & unknown[]
  t.equal(calls.length, 2)
  t.equal(calls[1].length, 3, 'excInfo is passed on to the server')
  body.close?.()
})

test('app: an async app and an async generator body are checked too', async (t) => {
  const { startResponse } = recorder()
  const body = await validator(async (_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (async function * () { yield 'ok'; yield 2 as unknown as string })()
  })(makeEnviron() as unknown as Environ, startResponse) as AsyncIterable<unknown>
  const iterator = body[Symbol.asyncIterator]()
  t.same(await iterator.next(), { done: false, value: 'ok' })
  await t.rejects(iterator.next(), rule(/got number 2/))
  ;(body as Body).close?.()
  const bad = validator(async () => 'text' as unknown as Body)(makeEnviron() as unknown as Environ, startResponse)
  await t.rejects(bad as Promise<Body>, rule(/bare string/))
})

test('app: arrays stay arrays and file wrappers stay file wrappers, with close() tracked', async (t) => {
  const { startResponse } = recorder()
  let closes = 0
  const array = validator((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return Object.assign(['one'], { close: () => { closes++ } })
  })(makeEnviron() as unknown as Environ, startResponse) as Body & unknown[]
  t.ok(Array.isArray(array), 'the server still sees a one-element array (Content-Length)')
  array.close?.()
  t.equal(closes, 1)
  t.throws(() => array.close?.(), rule(/called close\(\) twice/))
  const environ = makeEnviron({ 'wsgi.file_wrapper': (await import('../lib/wsgi/file-wrapper.js')).fileWrapper })
  const wrapper = validator((environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (environ['wsgi.file_wrapper'] as (file: unknown) => Body)({ read: () => Buffer.alloc(0) })
  })(environ as unknown as Environ, startResponse) as Body
  t.equal(wrapper.constructor.name, 'FileWrapper', 'the file fast path still applies')
  wrapper.close?.()
  t.throws(() => wrapper.close?.(), rule(/called close\(\) twice/))
})

// The server's side: the environ, wsgi.input and wsgi.errors it provides, and how it treats the body.
const okApp: WsgiApp = respond('200 OK', TEXT)
const environBreaks: Array<[string, () => unknown, RegExp]> = [
  ['an environ that is not an object', () => null, /environ must be a plain object, got null/],
  ...['REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PORT', 'wsgi.version', 'wsgi.input', 'wsgi.errors', 'wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once', 'wsgi.url_scheme']
    .map((key): [string, () => unknown, RegExp] => [`an environ without ${key}`, () => {
      const environ = makeEnviron()
      delete environ[key]
      return environ
    }, new RegExp(`missing the required key ${key.replace('.', '\\.')}`)]),
  ['HTTP_CONTENT_TYPE', () => makeEnviron({ HTTP_CONTENT_TYPE: 'text/plain' }), /must not have the key HTTP_CONTENT_TYPE \(use CONTENT_TYPE instead\)/],
  ['HTTP_CONTENT_LENGTH', () => makeEnviron({ HTTP_CONTENT_LENGTH: '1' }), /HTTP_CONTENT_LENGTH \(use CONTENT_LENGTH instead\)/],
  ['a CGI key that is not a string', () => makeEnviron({ SERVER_PORT: 80 }), /environ key SERVER_PORT must be a string, got number 80/],
  ['a wsgi.version other than [1, 0]', () => makeEnviron({ 'wsgi.version': [1, 1] }), /must be \[1, 0\], got \[number 1, number 1\]/],
  ['an unknown url scheme', () => makeEnviron({ 'wsgi.url_scheme': 'ftp', SERVER_PORT: '21' }), /'http' or 'https', got "ftp"/],
  ['a wsgi.multithread that is not a boolean', () => makeEnviron({ 'wsgi.multithread': 0 }), /wsgi\.multithread'\] must be a boolean, got number 0/],
  ['a wsgi.input without readline', () => makeEnviron({ 'wsgi.input': { read () {}, readlines () {} } }), /wsgi\.input'\] \(object Object\) has no readline\(\) method/],
  ['a wsgi.input that is not iterable', () => makeEnviron({ 'wsgi.input': { read () {}, readline () {}, readlines () {} } }), /wsgi\.input'\] \(object Object\) is not iterable/],
  ['a wsgi.errors without flush', () => makeEnviron({ 'wsgi.errors': { write () {}, writelines () {} } }), /wsgi\.errors'\] \(object Object\) has no flush\(\) method/],
  ['a REQUEST_METHOD that is not a token', () => makeEnviron({ REQUEST_METHOD: 'GET /' }), /REQUEST_METHOD must be an HTTP method token, got "GET \/"/],
  ['a SCRIPT_NAME without a leading /', () => makeEnviron({ SCRIPT_NAME: 'app', PATH_INFO: '/' }), /SCRIPT_NAME must be empty or start with '\/', got "app"/],
  ['a PATH_INFO without a leading /', () => makeEnviron({ PATH_INFO: 'x' }), /PATH_INFO must be empty or start with '\/' \(or be '\*' for OPTIONS\), got "x"/],
  ['a PATH_INFO of * for another method than OPTIONS', () => makeEnviron({ PATH_INFO: '*' }), /PATH_INFO must be empty .*, got "\*"/],
  ['neither SCRIPT_NAME nor PATH_INFO', () => {
    const environ = makeEnviron()
    delete environ.SCRIPT_NAME
    delete environ.PATH_INFO
    return environ
  }, /one of SCRIPT_NAME or PATH_INFO is required/],
  ['a SCRIPT_NAME of /', () => makeEnviron({ SCRIPT_NAME: '/', PATH_INFO: '' }), /SCRIPT_NAME cannot be '\/'/],
  ['a CONTENT_LENGTH that is not a number', () => makeEnviron({ CONTENT_LENGTH: '-1' }), /CONTENT_LENGTH must be a non-negative integer, got "-1"/]
]

for (const [name, environ, message] of environBreaks) {
  test(`server: ${name} fails with the rule named`, async (t) => {
    t.throws(() => serve(okApp, environ() as Record<string, unknown>), rule(message))
  })
}

test('server: OPTIONS * has PATH_INFO \'*\', as wsgiref\'s and gunicorn\'s servers give it', async (t) => {
  t.doesNotThrow(() => serve(okApp, makeEnviron({ REQUEST_METHOD: 'OPTIONS', PATH_INFO: '*' })))
})

test('server: the app must be called with exactly environ and startResponse', async (t) => {
  const app = validator(okApp) as unknown as (...args: unknown[]) => unknown
  t.throws(() => app(makeEnviron()), rule(/two arguments \(environ, startResponse\), got 1/))
  t.throws(() => app(makeEnviron(), 'start'), rule(/startResponse must be a function, got "start"/))
})

test('server: a startResponse that returns no write callable fails', async (t) => {
  const app = validator(okApp)
  t.throws(() => app(makeEnviron() as unknown as Environ, (() => undefined) as unknown as StartResponse), rule(/return the write callable, got undefined/))
})

/**
 * The process warnings the validator emits while the test runs (WsgiWarning, WsgiValidationError);
 * others are left out: Node 26 warns once per process that the test runner's loader uses module.register().
 */
function validatorWarnings (t: Test): Error[] {
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => { if (warning.name.startsWith('Wsgi')) warnings.push(warning) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  return warnings
}

test('server: doubtful but legal environs warn once per message', async (t) => {
  const warnings = validatorWarnings(t)
  const noQuery = makeEnviron()
  delete noQuery.QUERY_STRING
  serve(okApp, noQuery)
  serve(okApp, makeEnviron({ REQUEST_METHOD: 'PROPFIND' }))
  serve(okApp, makeEnviron({ REQUEST_METHOD: 'PROPFIND' }))
  await nextTurn()
  t.same(warnings.map((warning) => [warning.name, warning.message]), [
    ['WsgiWarning', 'QUERY_STRING is not in the environ; apps that parse it will see an empty query'],
    ['WsgiWarning', 'Unknown REQUEST_METHOD: "PROPFIND"']
  ])
})

/** Runs `use` inside a validated app with `input` as wsgi.input. */
function withInput (input: unknown, use: (input: WsgiInput) => unknown): unknown {
  let result: unknown
  serve((environ, startResponse) => {
    result = use(environ['wsgi.input'])
    startResponse('200 OK', TEXT)
    return []
  }, makeEnviron({ 'wsgi.input': input }))
  return result
}

/** A wsgi.input whose every method returns `value`: a server bug the validator must catch. */
function inputReturning (value: unknown): object {
  return { read: () => value, readline: () => value, readlines: () => value, * [Symbol.iterator] () { yield value } }
}

test('server: wsgi.input must return Buffers from every method', async (t) => {
  t.throws(() => withInput(inputReturning('text'), (input) => input.read()), rule(/wsgi\.input\.read\(\) must return a Buffer, got "text"/))
  t.throws(() => withInput(inputReturning('text'), (input) => input.readline()), rule(/wsgi\.input\.readline\(\) must return a Buffer/))
  t.throws(() => withInput(inputReturning('text'), (input) => input.readlines()), rule(/readlines\(\) must return an array of Buffers, got "text"/))
  t.throws(() => withInput(inputReturning(['a']), (input) => input.readlines()), rule(/wsgi\.input\.readlines\(\) must return a Buffer, got "a"/))
  t.throws(() => withInput(inputReturning(1), (input) => [...input]), rule(/iterating wsgi\.input must return a Buffer, got number 1/))
  const good = new BufferedInput(Buffer.from('a\nb\n'))
  t.same(withInput(good, (input) => [...input].map(String)), ['a\n', 'b\n'])
})

test('app: wsgi.input takes at most one integer argument and may not be closed', async (t) => {
  const input = (): BufferedInput => new BufferedInput(Buffer.from('abc\n'))
  t.same(withInput(input(), (wsgiInput) => String(wsgiInput.read(2))), 'ab')
  t.same(withInput(input(), (wsgiInput) => wsgiInput.readlines(null).map(String)), ['abc\n'])
  t.throws(() => withInput(input(), (wsgiInput) => (wsgiInput.read as (...args: unknown[]) => Buffer)(1, 2)), rule(/read\(\) takes at most one argument, got 2/))
  t.throws(() => withInput(input(), (wsgiInput) => wsgiInput.readline('1' as unknown as number)), rule(/readline\(\) takes an integer size, got "1"/))
  t.throws(() => withInput(input(), (wsgiInput) => (wsgiInput as unknown as { close: () => void }).close()), rule(/wsgi\.input\.close\(\) must not be called/))
})

test('server: a stream-mode wsgi.input is checked when its Promises resolve', async (t) => {
  const streamInput = {
    read: async () => 'text',
    readline: async () => Buffer.from('line\n'),
    readlines: async () => [Buffer.from('line\n')],
    async * [Symbol.asyncIterator] () { yield 1 },
    async * chunks () { yield 'chunk' }
  }
  const { startResponse } = recorder()
  let seen: Record<string, () => unknown> = {}
  const body = validator((environ, startResponse) => {
    seen = environ['wsgi.input'] as unknown as Record<string, () => unknown>
    startResponse('200 OK', TEXT)
    return []
  })(makeEnviron({ 'wsgi.input': streamInput }) as unknown as Environ, startResponse) as Body
  body.close?.()
  await t.rejects(seen.read() as Promise<unknown>, rule(/read\(\) must return a Buffer, got "text"/))
  t.same(String(await seen.readline()), 'line\n')
  t.same((await seen.readlines() as Buffer[]).map(String), ['line\n'])
  const lines = (seen as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  await t.rejects(lines.next(), rule(/iterating wsgi\.input must return a Buffer, got number 1/))
  const chunks = (seen.chunks() as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  await t.rejects(chunks.next(), rule(/wsgi\.input\.chunks\(\) must return a Buffer, got "chunk"/))
})

test('app: wsgi.errors takes text, and may not be closed', async (t) => {
  const lines: string[] = []
  const errors = { write: (text: string) => { lines.push(text) }, writelines: () => {}, flush: () => { lines.push('<flush>') } }
  const use = (action: (errors: Record<string, (...args: unknown[]) => void>) => void): void => {
    serve((environ, startResponse) => {
      action(environ['wsgi.errors'] as unknown as Record<string, (...args: unknown[]) => void>)
      startResponse('200 OK', TEXT)
      return []
    }, makeEnviron({ 'wsgi.errors': errors }))
  }
  use((e) => { e.write('one\n'); e.writelines(['two\n', 'three\n']); e.flush() })
  t.same(lines, ['one\n', 'two\n', 'three\n', '<flush>'])
  t.throws(() => use((e) => { e.write(Buffer.from('x')) }), rule(/wsgi\.errors\.write\(\) takes a string, got object Buffer/))
  t.throws(() => use((e) => { e.write() }), rule(/write\(\) takes one argument, got 0/))
  t.throws(() => use((e) => { e.writelines('text') }), rule(/writelines\(\) takes an iterable of strings, got "text"/))
  t.throws(() => use((e) => { e.writelines() }), rule(/writelines\(\) takes one argument, got 0/))
  t.throws(() => use((e) => { e.writelines([1]) }), rule(/write\(\) takes a string, got number 1/))
  t.throws(() => use((e) => { e.flush(true) }), rule(/flush\(\) takes no arguments, got 1/))
  t.throws(() => use((e) => { e.close() }), rule(/wsgi\.errors\.close\(\) must not be called/))
})

test('server: reading the body after close() or closing it twice fails', async (t) => {
  const { startResponse } = recorder()
  const run = (): Body & Iterator<unknown> & Iterable<unknown> => validator((_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (function * () { yield 'a'; yield 'b' })()
  })(makeEnviron() as unknown as Environ, startResponse) as Body & Iterator<unknown> & Iterable<unknown>
  const body = run()
  t.same(body.next(), { done: false, value: 'a' })
  body.close?.()
  t.throws(() => body.next(), rule(/the server read the body .* after closing it/))
  t.throws(() => body.close?.(), rule(/called close\(\) twice/))
  const stopped = run()
  t.same(stopped.return?.(), { done: true, value: undefined }, 'return() reaches the generator')
  stopped.close?.()
  const asyncBody = await validator(async (_environ, startResponse) => {
    startResponse('200 OK', TEXT)
    return (async function * () { yield 'a' })()
  })(makeEnviron() as unknown as Environ, startResponse) as Body & AsyncIterator<unknown>
  t.same(await asyncBody.return?.(), { done: true, value: undefined })
  asyncBody.close?.()
  await t.rejects(asyncBody.next(), rule(/after closing it/))
  const plainAsync = validator(respond('200 OK', TEXT, { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true }) }) }))(makeEnviron() as unknown as Environ, startResponse) as Body & AsyncIterator<unknown>
  t.same(await plainAsync.return?.(), { done: true, value: undefined }, 'an async iterator without return() is fine to stop')
  plainAsync.close?.()
  const plain = validator(respond('200 OK', TEXT, { [Symbol.iterator]: () => ({ next: () => ({ done: true }) }) }))(makeEnviron() as unknown as Environ, startResponse) as Body & Iterator<unknown>
  t.same(plain.return?.(), { done: true, value: undefined }, 'an iterator without return() is fine to stop')
  plain.close?.()
})

test('server: a body garbage-collected without close() is reported as a warning', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const warnings = validatorWarnings(t)
  const { startResponse } = recorder();
  (() => {
    validator(respond('200 OK', TEXT, ['forgotten']))(makeEnviron() as unknown as Environ, startResponse)
  })()
  for (let i = 0; i < 20 && warnings.length === 0; i++) {
    gc()
    await nextTurn()
  }
  t.match(warnings.map((warning) => warning.message), [/never called close\(\) on the body \["forgotten"\]/])
})

test('option validate: a mounted app breaking the protocol gets a 500 and the rule in the log', async (t) => {
  const { origin, logs } = await listenWithMount(t, { validate: true, app: respond('200 OK', []) })
  const response = await request(origin)
  t.equal(response.statusCode, 500)
  t.notMatch(await response.body.text(), /at .*validate/, 'no stack trace reaches the client')
  t.match(logs.find((record) => record.level === 50)?.err, { code: 'FST_WSGI_VALIDATION', message: /no Content-Type header in a 200 response/ })
})

test('option validate: reply.wsgi validates per call, and the option must be a boolean', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.get('/checked', (_request, reply) => reply.wsgi(respond('200 OK', []), { validate: true }))
  fastify.get('/unchecked', (_request, reply) => reply.wsgi(respond('200 OK', [])))
  t.equal((await fastify.inject('/checked')).statusCode, 500)
  t.equal((await fastify.inject('/unchecked')).statusCode, 200)
  const { fastify: other } = createServer(t)
  other.register(fastifyWsgi, { validate: 'yes' as unknown as boolean })
  await t.rejects(async () => { await other.ready() }, { code: 'FST_WSGI_INVALID_OPTION', message: /"validate": expected a boolean, got "yes"/ })
})
