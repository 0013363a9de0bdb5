// Registration: the mount, reply.wsgi, options and encapsulation.
import { test } from 'tap'
import { readFile } from 'node:fs/promises'
import { request } from 'undici'
import fastifyWsgi, { fastifyWsgi as named, VERSION, type AnyWsgiInput, type WsgiApp } from '../lib/index.js'
import { createServer, listenWithMount } from './helpers/server.js'

const echoPath: WsgiApp = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']])
  return [`${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}|${environ.QUERY_STRING}`]
}

test('a mount answers at the prefix and everything below it, for every method', async (t) => {
  const { origin } = await listenWithMount(t, { prefix: '/legacy', app: echoPath })
  const cases: Array<[string, string, string]> = [
    ['GET', '/legacy', 'GET /legacy||'],
    ['GET', '/legacy/', 'GET /legacy|/|'],
    ['GET', '/legacy/a/b?x=1', 'GET /legacy|/a/b|x=1'],
    ['POST', '/legacy/form', 'POST /legacy|/form|'],
    ['PUT', '/legacy/x', 'PUT /legacy|/x|'],
    ['DELETE', '/legacy/x', 'DELETE /legacy|/x|'],
    ['PATCH', '/legacy/x', 'PATCH /legacy|/x|'],
    ['OPTIONS', '/legacy/x', 'OPTIONS /legacy|/x|'],
    ['TRACE', '/legacy/x', 'TRACE /legacy|/x|']
  ]
  for (const [method, path, expected] of cases) {
    const response = await request(origin + path, { method: method as 'GET' })
    t.equal(response.statusCode, 200, `${method} ${path}`)
    t.equal(await response.body.text(), expected)
  }
  const outside = await request(origin + '/legacyfoo')
  t.equal(outside.statusCode, 404, 'a path that only starts with the prefix is not mounted')
  await outside.body.dump()
})

test('methods added with addHttpMethod before registering reach the app', async (t) => {
  const { fastify } = createServer(t)
  fastify.addHttpMethod('PROPFIND', { hasBody: true })
  fastify.addHttpMethod('PURGE')
  await fastify.register(fastifyWsgi, { prefix: '/dav', app: echoPath })
  for (const method of ['PROPFIND', 'PURGE']) {
    const response = await fastify.inject({ method: method as 'GET', url: '/dav/file' })
    t.equal(response.body, `${method} /dav|/file|`)
  }
})

test('other Fastify routes keep working beside a mount', async (t) => {
  const { fastify } = createServer(t)
  fastify.get('/native', async () => ({ native: true }))
  await fastify.register(fastifyWsgi, { prefix: '/legacy', app: echoPath })
  fastify.post('/json', async (request) => request.body)
  t.same((await fastify.inject('/native')).json(), { native: true })
  const json = await fastify.inject({ method: 'POST', url: '/json', payload: { a: 1 } })
  t.same(json.json(), { a: 1 }, 'the JSON parser still runs outside the mount')
  t.equal((await fastify.inject('/legacy/x')).body, 'GET /legacy|/x|')
})

test('a mount at the root serves every path', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { app: echoPath })
  t.equal((await fastify.inject('/')).body, 'GET |/|')
  t.equal((await fastify.inject('/deep/path?q')).body, 'GET |/deep/path|q')
})

test('a trailing slash in the prefix mounts what the prefix without it does', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { prefix: '/legacy/', app: echoPath })
  await fastify.register(fastifyWsgi, { prefix: '/', app: echoPath })
  t.equal((await fastify.inject('/legacy/x')).body, 'GET /legacy|/x|')
  t.equal((await fastify.inject('/legacy')).body, 'GET /legacy||', 'the prefix itself is mounted')
  t.equal((await fastify.inject('/legacy/')).body, 'GET /legacy|/|')
  t.equal((await fastify.inject('/other')).body, 'GET |/other|', "prefix '/' is the root")
})

test('a mount inside a prefixed, encapsulated plugin gets the full prefix as SCRIPT_NAME', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(async (api) => {
    await api.register(fastifyWsgi, { prefix: '/legacy', app: echoPath })
  }, { prefix: '/api' })
  t.equal((await fastify.inject('/api/legacy/x?y')).body, 'GET /api/legacy|/x|y')
  t.equal((await fastify.inject('/legacy/x')).statusCode, 404)
})

test('two mounts with different options stay independent', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { prefix: '/a', app: echoPath, serverSoftware: 'server-a' })
  await fastify.register(fastifyWsgi, { prefix: '/b', app: echoPath, serverSoftware: false, bodyLimit: 4 })
  const a = await fastify.inject({ method: 'POST', url: '/a/x', payload: 'twelve bytes' })
  t.equal(a.headers.server, 'server-a')
  t.equal(a.statusCode, 200)
  const b = await fastify.inject({ method: 'POST', url: '/b/x', payload: 'twelve bytes' })
  t.equal(b.statusCode, 413)
  const bSmall = await fastify.inject('/b/x')
  t.equal(bSmall.headers.server, undefined)
})

test('reply.wsgi runs an app from any route, after Fastify routing and hooks', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.headers.authorization !== 'secret') await reply.code(401).send({ error: 'no' })
  })
  fastify.get('/hello/*', (_request, reply) => reply.wsgi(echoPath))
  fastify.get('/split/*', async (_request, reply) => { await reply.wsgi(echoPath, { scriptName: '/split/' }) })
  const denied = await fastify.inject('/hello/x')
  t.equal(denied.statusCode, 401)
  const allowed = await fastify.inject({ url: '/hello/x?q=1', headers: { authorization: 'secret' } })
  t.equal(allowed.body, 'GET |/hello/x|q=1')
  const split = await fastify.inject({ url: '/split/y', headers: { authorization: 'secret' } })
  t.equal(split.body, 'GET /split|/y|')
})

test("a mount's options apply to that mount only, not to reply.wsgi in its scope", async (t) => {
  const { fastify } = createServer(t)
  const inputMode: WsgiApp<AnyWsgiInput> = (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']])
    return [(environ['wsgi.input'] as object).constructor.name === 'StreamInput' ? 'stream' : 'buffer']
  }
  await fastify.register(fastifyWsgi, { prefix: '/upload', app: inputMode, input: 'stream', serverSoftware: 'upload-svc' })
  fastify.get('/form', (_request, reply) => reply.wsgi(inputMode))
  const mounted = await fastify.inject('/upload')
  t.equal(mounted.body, 'stream')
  t.equal(mounted.headers.server, 'upload-svc')
  const direct = await fastify.inject('/form')
  t.equal(direct.body, 'buffer', 'reply.wsgi reads its body in the default buffer mode')
  t.equal(direct.headers.server, `fastify-wsgi/${VERSION}`, "reply.wsgi sends the library's Server header")
})

test('a registration without app after a mount in the same scope sets reply.wsgi defaults', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { prefix: '/m', app: echoPath, serverSoftware: 'from-mount' })
  await fastify.register(fastifyWsgi, { serverSoftware: 'defaults' })
  fastify.get('/direct', (_request, reply) => reply.wsgi(echoPath))
  t.equal((await fastify.inject('/m')).headers.server, 'from-mount')
  const direct = await fastify.inject('/direct')
  t.equal(direct.body, 'GET |/direct|')
  t.equal(direct.headers.server, 'defaults')
})

test('a child scope may register without app for its own reply.wsgi defaults; others keep theirs', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { serverSoftware: 'root' })
  await fastify.register(async (child) => {
    await child.register(fastifyWsgi, { serverSoftware: 'child' })
    child.get('/child', (_request, reply) => reply.wsgi(echoPath))
    await child.register(async (grandchild) => {
      grandchild.get('/grandchild', (_request, reply) => reply.wsgi(echoPath))
    })
  })
  fastify.get('/root', (_request, reply) => reply.wsgi(echoPath))
  t.equal((await fastify.inject('/child')).headers.server, 'child')
  t.equal((await fastify.inject('/grandchild')).headers.server, 'child', 'the nearest registration without app wins')
  t.equal((await fastify.inject('/root')).headers.server, 'root')
})

test('per-call options of reply.wsgi override the registration', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { serverSoftware: 'registered' })
  fastify.get('/x', (_request, reply) => reply.wsgi(echoPath, { serverSoftware: 'per-call' }))
  fastify.get('/y', (_request, reply) => reply.wsgi(echoPath))
  t.equal((await fastify.inject('/x')).headers.server, 'per-call')
  t.equal((await fastify.inject('/y')).headers.server, 'registered')
})

test('a second registration without app in the same scope is refused', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  await t.rejects(async () => { await fastify.register(fastifyWsgi) }, {
    code: 'FST_WSGI_ALREADY_DECORATED',
    message: /already registered without "app" in this scope.*register it once per scope/
  })
})

test('sibling scopes may each register the plugin', async (t) => {
  const { fastify } = createServer(t)
  for (const name of ['one', 'two']) {
    await fastify.register(async (scope) => {
      await scope.register(fastifyWsgi, { serverSoftware: name })
      scope.get(`/${name}`, (_request, reply) => reply.wsgi(echoPath))
    })
  }
  t.equal((await fastify.inject('/one')).headers.server, 'one')
  t.equal((await fastify.inject('/two')).headers.server, 'two')
})

test('options are validated at registration with FST_WSGI_INVALID_OPTION naming the value', async (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ app: 'not a function' }, 'Invalid fastify-wsgi option "app": expected a WSGI app function (environ, startResponse) => body, got "not a function"'],
    [{ prefix: 'legacy', app: echoPath }, 'Invalid fastify-wsgi option "prefix": expected a path starting with \'/\', got "legacy"'],
    [{ serverSoftware: true }, 'option "serverSoftware": expected a non-empty string or false, got boolean true'],
    [{ serverSoftware: '' }, 'option "serverSoftware"'],
    [{ input: 'mmap' }, 'option "input": expected \'buffer\' or \'stream\', got "mmap"'],
    [{ bodyLimit: -1 }, 'option "bodyLimit": expected a non-negative integer, got number -1'],
    [{ bodyLimit: 1.5 }, 'option "bodyLimit"'],
    [{ pathEncoding: 'ascii' }, 'option "pathEncoding": expected \'latin1\' or \'utf8\', got "ascii"'],
    [{ dropUnderscoreHeaders: 'yes' }, 'option "dropUnderscoreHeaders": expected a boolean, got "yes"'],
    [{ baseEnviron: [] }, 'option "baseEnviron": expected a plain object, got []'],
    [{ baseEnviron: 'x' }, 'option "baseEnviron"'],
    [{ multiprocess: 1 }, 'option "multiprocess": expected a boolean, got number 1'],
    [{ lingeringTime: -1 }, 'option "lingeringTime": expected a non-negative integer, got number -1'],
    [{ lingeringLimit: '4MiB' }, 'option "lingeringLimit": expected a non-negative integer, got "4MiB"']
  ]
  for (const [options, message] of cases) {
    const { fastify } = createServer(t)
    await t.rejects(async () => { await fastify.register(fastifyWsgi, options) }, { code: 'FST_WSGI_INVALID_OPTION', message }, JSON.stringify(options))
  }
})

test('reply.wsgi validates its app and options per call', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.get('/no-app', (_request, reply) => reply.wsgi('nope' as unknown as WsgiApp))
  fastify.get('/bad-option', (_request, reply) => reply.wsgi(echoPath, { scriptName: 'x' }))
  const noApp = await fastify.inject('/no-app')
  t.equal(noApp.statusCode, 500)
  t.equal(noApp.json().code, 'FST_WSGI_INVALID_OPTION')
  const badOption = await fastify.inject('/bad-option')
  t.match(badOption.json().message, 'option "scriptName"')
})

test('reply.wsgi with a scriptName that does not lead the path fails clearly', async (t) => {
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi)
  fastify.get('/x', (_request, reply) => reply.wsgi(echoPath, { scriptName: '/other' }))
  const response = await fastify.inject('/x')
  t.equal(response.statusCode, 500)
  t.match(response.json().message, 'option "scriptName": "/other" does not lead the request path "/x"')
})

test('both import styles give the plugin, with its Fastify metadata', async (t) => {
  t.equal(fastifyWsgi, named)
  const meta = (fastifyWsgi as unknown as Record<symbol, { name: string, fastify: string }>)[Symbol.for('plugin-meta')]
  t.equal(meta.name, 'fastify-wsgi')
  t.equal(meta.fastify, '5.x')
})

test('VERSION matches package.json and is the default Server header', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
  t.equal(VERSION, pkg.version)
  const { fastify } = createServer(t)
  await fastify.register(fastifyWsgi, { app: echoPath })
  const response = await fastify.inject('/')
  t.equal(response.headers.server, `fastify-wsgi/${pkg.version}`)
})

test('the package imports itself by name from its build', async (t) => {
  const self = await import('fastify-wsgi' as string)
  t.type(self.default, 'function')
  t.equal(self.fastifyWsgi, self.default)
  t.type(self.BaseHandler, 'function')
})
