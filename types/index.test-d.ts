import Fastify, { type FastifyReply } from 'fastify'
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd'
import fastifyWsgi, {
  fastifyWsgi as namedPlugin,
  Headers,
  shiftPathInfo,
  SimpleHandler,
  CGIHandler,
  compose,
  makeServer,
  validator,
  wsgiRewriteUrl,
  wsgiClientErrorHandler,
  WsgiValidationError,
  type Environ,
  type MakeServerOptions,
  type Middleware,
  type StartResponse,
  type StreamingWsgiApp,
  type WriteCallable,
  type WsgiApp,
  type WsgiInput,
  type WsgiServer,
  type WsgiStreamInput
} from 'fastify-wsgi'

// WsgiApp: sync arrays, generators, async generators and Promise-returning apps.
const hello: WsgiApp = (environ, startResponse) => {
  expectType<string>(environ.PATH_INFO)
  expectType<string | undefined>(environ.CONTENT_LENGTH)
  expectType<readonly [1, 0]>(environ['wsgi.version'])
  expectError(environ['wsgi.version'].push(2))
  expectType<Buffer>(environ['wsgi.input'].read())
  expectType<Buffer[]>(environ['wsgi.input'].readlines())
  expectType<AbortSignal | undefined>(environ['fastify.signal'])
  expectType<AbortSignal>(environ['fastify.request'].signal)
  environ['fastify.earlyHints']([['Link', '</a.css>; rel=preload']])
  const hints = environ['fastify.earlyHints']
  // A detached call has no environ to find the reply on.
  expectError(hints([['Link', '</a.css>; rel=preload']]))
  // Request headers may be absent; a misspelt CGI name does not compile; dotted extension keys are open.
  expectType<string | undefined>(environ.HTTP_COOKIE)
  expectType<string | undefined>(environ.HTTP_X_REQUEST_ID)
  expectError(environ.PATHINFO)
  expectError(environ.REQUEST_METHD)
  expectType<unknown>(environ['myapp.user'])
  expectType<'http' | 'https'>(environ['wsgi.url_scheme'])
  const write = startResponse('200 OK', [['Content-Type', 'text/plain']])
  expectType<WriteCallable>(write)
  write('text')
  write(Buffer.from('bytes'))
  write(new Uint8Array([1]))
  expectError(write(42))
  return ['Hello', Buffer.from('!')]
}
expectAssignable<WsgiApp>(function * (_environ: Environ, startResponse: StartResponse) {
  startResponse('200 OK', [])
  yield 'chunk'
})
expectAssignable<WsgiApp>(async function * (_environ: Environ, startResponse: StartResponse) {
  startResponse('200 OK', [])
  yield Buffer.from('chunk')
})
expectAssignable<WsgiApp>(async (_environ: Environ, startResponse: StartResponse) => {
  startResponse('200 OK', [])
  return ['later']
})
expectAssignable<WsgiApp>((_environ: Environ, startResponse: StartResponse) => {
  startResponse('200 OK', [])
  return Object.assign(['closable'], { close () {} })
})
expectNotAssignable<WsgiApp>(() => 42)
expectNotAssignable<WsgiApp>(() => [42])

// startResponse refuses wrong argument types.
declare const startResponse: StartResponse
expectError(startResponse(200, []))
expectError(startResponse('200 OK', { 'Content-Type': 'text/plain' }))
expectError(startResponse('200 OK', [['X-Count', 1]]))
startResponse('500 Internal Server Error', [], new Error('caught'))

// The environ tells the app which wsgi.input it gets.
const upload: StreamingWsgiApp = async (environ, startResponse) => {
  expectType<WsgiStreamInput>(environ['wsgi.input'])
  expectType<Promise<Buffer>>(environ['wsgi.input'].read(10))
  for await (const chunk of environ['wsgi.input'].chunks()) expectType<Buffer>(chunk)
  startResponse('200 OK', [])
  return []
}
expectNotAssignable<WsgiApp>(upload)
expectType<WsgiInput>(({} as Environ)['wsgi.input'])

// Registration, with both import styles.
const app = Fastify()
app.register(fastifyWsgi, { prefix: '/x', app: hello, serverSoftware: false, pathEncoding: 'utf8' })
app.register(namedPlugin, { prefix: '/y', app: hello, bodyLimit: 1024, dropUnderscoreHeaders: false, baseEnviron: { A: 1 }, multiprocess: true })
app.register(fastifyWsgi, { prefix: '/upload', input: 'stream', app: upload })
app.register(fastifyWsgi, { prefix: '/inline', input: 'buffer', app: (environ, startResponse) => { startResponse('200 OK', []); return [environ['wsgi.input'].read()] } })
app.register(fastifyWsgi)
expectError(app.register(fastifyWsgi, { app: hello, pathEncoding: 'ascii' }))
expectError(app.register(fastifyWsgi, { app: hello, serverSoftware: true }))
expectError(app.register(fastifyWsgi, { app: upload }))
expectError(app.register(fastifyWsgi, { input: 'stream', app: hello }))
expectError(app.register(fastifyWsgi, { app: 'not an app' }))

// reply.wsgi
app.get('/r/*', async (_request, reply) => {
  expectType<Promise<void>>(reply.wsgi(hello))
  await reply.wsgi(hello, { scriptName: '/r' })
  await reply.wsgi(upload, { input: 'stream' })
  expectError(reply.wsgi('not an app'))
  expectError(reply.wsgi(upload))
  expectError(reply.wsgi(hello, { scriptName: 1 }))
})
expectAssignable<(app: WsgiApp) => Promise<void>>({} as FastifyReply['wsgi'])

// Toolkit
const headers = new Headers([['Content-Type', 'text/plain']])
expectType<string | undefined>(headers.get('content-type'))
expectType<Array<[string, string]>>(headers.items())
headers.addCookie('sid', 'abc', { Path: '/', HttpOnly: true, Max_Age: 3600, Secure: null })
expectError(headers.addCookie('sid', 'abc', { HttpOnly: false }))
expectType<string | null>(shiftPathInfo({ SCRIPT_NAME: '', PATH_INFO: '/a' }))
Fastify({ rewriteUrl: wsgiRewriteUrl })
Fastify({ clientErrorHandler: wsgiClientErrorHandler })

// validator keeps the app's input mode; the validate option is a boolean
expectType<WsgiApp>(validator(hello))
expectType<StreamingWsgiApp>(validator(upload))
expectError(validator('not an app'))
app.register(fastifyWsgi, { app: hello, validate: true })
expectError(app.register(fastifyWsgi, { app: hello, validate: 'yes' }))
app.get('/v', async (_request, reply) => { await reply.wsgi(hello, { validate: true }) })
const validationError = new WsgiValidationError('rule')
expectType<string>(validationError.code)
expectAssignable<Error>(validationError)

// SimpleHandler over any streams; CGIHandler over the process's own
const simple = new SimpleHandler(process.stdin, process.stdout, process.stderr, { REQUEST_METHOD: 'GET' }, { multithread: false, bodyLimit: 1024 })
expectType<Promise<void>>(simple.run(hello))
expectError(simple.run(upload))
expectError(new SimpleHandler(process.stdin, process.stdout, process.stderr, {}, { runOnce: 'yes' }))
expectType<Promise<void>>(new CGIHandler().run(hello))
expectError(new CGIHandler({ originServer: true }))
// errorHeaders is one frozen list shared by every handler (wsgiref's class attribute): assign, don't mutate
simple.errorHeaders = [['Content-Type', 'text/html; charset=utf-8']]
expectError(simple.errorHeaders.push(['X-Extra', '1']))

// compose stacks middleware of one input mode; the result is a middleware of that mode
const passThrough: Middleware = (inner) => (environ, startResponse) => inner(environ, startResponse)
expectType<WsgiApp>(compose(passThrough, passThrough)(hello))
const streamingPassThrough: Middleware<WsgiStreamInput> = (inner) => inner
expectType<StreamingWsgiApp>(compose(streamingPassThrough)(upload))
expectError(compose(passThrough)(upload))
expectError(compose('not a middleware'))

// onSendHooks: a boolean, at registration and per reply.wsgi call
app.register(fastifyWsgi, { app: hello, onSendHooks: true })
expectError(app.register(fastifyWsgi, { app: hello, onSendHooks: 'yes' }))
app.get('/compressed', async (_request, reply) => { await reply.wsgi(hello, { onSendHooks: true }) })

// signal: a boolean, at registration, per reply.wsgi call and for makeServer
app.register(fastifyWsgi, { app: hello, signal: true })
expectError(app.register(fastifyWsgi, { app: hello, signal: 'yes' }))
app.get('/cancellable', async (_request, reply) => { await reply.wsgi(hello, { signal: true }) })

// lingeringTime and lingeringLimit: numbers, at registration, per reply.wsgi call and for makeServer
app.register(fastifyWsgi, { app: hello, lingeringTime: 5000, lingeringLimit: 16 * 1024 * 1024 })
expectError(app.register(fastifyWsgi, { app: hello, lingeringTime: '2s' }))
expectError(app.register(fastifyWsgi, { app: hello, lingeringLimit: true }))
app.get('/patient', async (_request, reply) => { await reply.wsgi(hello, { lingeringTime: 0 }) })
expectAssignable<MakeServerOptions>({ lingeringTime: 1000, lingeringLimit: 0 })

// makeServer: an app at /, where to listen, the plugin's options and Fastify's; a listening instance back
async function serveTypes (): Promise<void> {
  const server = await makeServer(hello)
  expectType<WsgiServer>(server)
  expectType<Promise<undefined>>(server.close())
  server.log.info('still a Fastify logger')
  expectType<WsgiServer>(await makeServer(hello, { host: '0.0.0.0', port: 0, gracefulTimeout: 5000, logger: { level: 'warn' }, serverSoftware: false, validate: true }))
  await makeServer(upload, { input: 'stream', bodyLimit: 1024, signal: true })
  await makeServer(hello, { http2: true, keepAliveTimeout: 1000, requestTimeout: 5000, trustProxy: true })
  await makeServer(hello, { prefix: '/legacy', trustProxy: '127.0.0.1,10.0.0.0/8', bodyLimit: 100 * 1024 ** 2 })
  await makeServer(hello, { https: { key: 'k', cert: 'c' } })
  expectAssignable<MakeServerOptions>({ port: 8000, input: 'buffer', pathEncoding: 'utf8' })
  expectError(makeServer())
  expectError(makeServer('not an app'))
  expectError(makeServer(upload))
  expectError(makeServer(hello, { input: 'stream' }))
  expectError(makeServer(hello, { port: '8000' }))
  expectError(makeServer(hello, { gracefulTimeout: '30s' }))
  expectError(makeServer(hello, { app: hello }))
  expectError(makeServer(hello, { prefix: 42 }))
  expectError(makeServer(hello, { pathEncoding: 'ascii' }))
}
expectType<() => Promise<void>>(serveTypes)
