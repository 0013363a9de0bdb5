// One benchmark server per process: `node servers.mjs <contender>` prints `READY <port>`.
// Every contender serves the same scenarios (see apps.mjs), also under the /app prefix (a mount
// there, for the mounts); /__cpu reports the CPU time used (the whole cluster's, for the clustered
// contenders). BENCH_H2=1: the Fastify contenders speak HTTP/2 without TLS (h2c), as h2load does.
import { spawn } from 'node:child_process'
import cluster from 'node:cluster'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import fastifyWsgi from 'fastify-wsgi'
import { createReadStream } from 'node:fs'
import { BLOCK_64K, FILE, HELLO, hundredSmall, legacyText, oneMebibyte, wsgiApp } from './apps.mjs'
import { addProbe } from './probe.mjs'
import { clusterCpu } from './cluster-cpu.mjs'

const contender = process.argv[2]

/** Native Fastify routes doing the same work as the WSGI app. */
function nativeRoutes (fastify) {
  const hello = (_request, reply) => { reply.type('text/plain').send(HELLO) }
  fastify.get('/hello', hello)
  fastify.get('/app/hello', hello)
  fastify.get('/legacy', (request, reply) => {
    const raw = request.raw
    const query = raw.url.includes('?') ? raw.url.slice(raw.url.indexOf('?') + 1) : ''
    reply.type('text/plain').send(legacyText(raw.method, '/legacy', query, raw.headers.cookie, raw.headers['user-agent']))
  })
  fastify.get('/64k', (_request, reply) => { reply.type('application/octet-stream').send(BLOCK_64K) })
  fastify.get('/1m', (_request, reply) => { reply.type('application/octet-stream').send(Readable.from(oneMebibyte())) })
  fastify.get('/file', (_request, reply) => { reply.type('application/octet-stream').send(createReadStream(FILE)) })
  fastify.get('/async', (_request, reply) => { reply.type('text/plain').send(Readable.from(hundredSmall(), { objectMode: false })) })
  fastify.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    scope.post('/echo', (request, reply) => { reply.type('application/octet-stream').send(request.body) })
  })
}

/** A connect/express-style handler doing the same work, for the middleware contenders and node:http. */
async function rawHandler (req, res) {
  const path = req.url.split('?', 1)[0].replace(/^\/app\//, '/')
  const send = (status, type, body) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  }
  const stream = async (type, chunks) => {
    res.writeHead(200, { 'Content-Type': type })
    for await (const chunk of chunks) if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve))
    res.end()
  }
  switch (path) {
    case '/hello': return send(200, 'text/plain', HELLO)
    case '/legacy': {
      const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : ''
      return send(200, 'text/plain', legacyText(req.method, path, query, req.headers.cookie, req.headers['user-agent']))
    }
    case '/64k': return send(200, 'application/octet-stream', BLOCK_64K)
    case '/1m': return stream('application/octet-stream', oneMebibyte())
    case '/async': return stream('text/plain', hundredSmall())
    case '/file': return stream('application/octet-stream', createReadStream(FILE))
    case '/echo': {
      const chunks = []
      for await (const chunk of req) chunks.push(chunk)
      return send(200, 'application/octet-stream', Buffer.concat(chunks))
    }
    default: return send(404, 'text/plain', 'not found')
  }
}

/** A Fastify contender listening; `cpuUsage` is what its /__cpu reports (a cluster's worker sums the cluster). */
async function listenFastify (build, cpuUsage = () => process.cpuUsage()) {
  const fastify = Fastify({ logger: false, http2: process.env.BENCH_H2 === '1' })
  fastify.get('/__cpu', async () => cpuUsage())
  // bench:counts and the promotion test read per-request counts from inside the server.
  if (process.env.BENCH_PROBE === '1') addProbe(fastify)
  await build(fastify)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  return fastify.server.address().port
}

/**
 * The fastify-wsgi CLI serving cli-app.mjs with `--workers N` (a node:cluster primary handing
 * connections to N workers), at log level warn like the other contenders' silent loggers.
 */
function listenCli (workers) {
  const cli = spawn(process.execPath, [
    fileURLToPath(new URL('../dist/lib/cli/index.js', import.meta.url)), '--workers', String(workers), '--port', '0', '--log-level', 'warn',
    fileURLToPath(new URL('./cli-app.mjs', import.meta.url))
  ], { stdio: ['ignore', 'pipe', 'inherit'] })
  // The CLI stops its workers gracefully on SIGTERM.
  process.once('exit', () => cli.kill('SIGTERM'))
  return new Promise((resolve, reject) => {
    let output = ''
    cli.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk
      const match = /listening on http:\/\/[^\s]+:(\d+)/.exec(output)
      if (match) resolve(Number(match[1]))
    })
    cli.once('exit', (code) => reject(new Error(`the CLI exited with code ${code}`)))
  })
}

/**
 * Native Fastify routes in `workers` node:cluster workers, as the CLI's --workers runs its mounts:
 * on a small machine, what the CLI's figure can be held against. Workers listening on port 0 share
 * the port the primary picks; each answers /__cpu for the whole cluster.
 */
async function listenNativeCluster (workers) {
  if (cluster.isWorker) return listenFastify(nativeRoutes, clusterCpu)
  const listening = []
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork()
    listening.push(new Promise((resolve, reject) => {
      worker.once('listening', (address) => resolve(address.port))
      worker.once('exit', (code) => reject(new Error(`a native-${workers}-workers worker exited with code ${code}`)))
    }))
  }
  const [port] = await Promise.all(listening)
  return port
}

/** A free port on 127.0.0.1, for servers that cannot report the one they bound. */
function freePort () {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

/** gunicorn (Debian: apt-get install gunicorn) with `workers` sync workers serving gunicorn_app.py. */
async function listenGunicorn (workers) {
  const port = await freePort()
  const gunicorn = spawn('gunicorn', ['-w', String(workers), '-b', `127.0.0.1:${port}`, '--log-level', 'warning', '--chdir', fileURLToPath(new URL('.', import.meta.url)), 'gunicorn_app:app'], { stdio: ['ignore', 'inherit', 'inherit'] })
  process.once('exit', () => gunicorn.kill('SIGTERM'))
  gunicorn.once('exit', (code) => { console.error(`gunicorn exited with code ${code}`) })
  for (let tries = 0; tries < 100; tries++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) }).once('error', () => resolve(false))
    })
    if (ok) return port
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('gunicorn did not start')
}

const contenders = {
  native: () => listenFastify((fastify) => nativeRoutes(fastify)),
  'native-hijack': () => listenFastify((fastify) => {
    // the handler reads the body itself
    fastify.removeAllContentTypeParsers()
    fastify.addContentTypeParser('*', (_request, _payload, done) => done(null))
    fastify.all('/*', (request, reply) => { reply.hijack(); rawHandler(request.raw, reply.raw) })
  }),
  'wsgi-mount': () => listenFastify(async (fastify) => {
    await fastify.register(fastifyWsgi, { app: wsgiApp })
    await fastify.register(fastifyWsgi, { prefix: '/app', app: wsgiApp })
  }),
  // onSendHooks: the response goes through reply.send, so onSend hooks (compression, ETag) would apply.
  'wsgi-onsend': () => listenFastify(async (fastify) => {
    await fastify.register(fastifyWsgi, { app: wsgiApp, onSendHooks: true })
    await fastify.register(fastifyWsgi, { prefix: '/app', app: wsgiApp, onSendHooks: true })
  }),
  'wsgi-reply': () => listenFastify(async (fastify) => {
    await fastify.register(fastifyWsgi)
    fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    fastify.all('/*', (_request, reply) => reply.wsgi(wsgiApp))
    fastify.all('/app/*', (_request, reply) => reply.wsgi(wsgiApp, { scriptName: '/app' }))
  }),
  express: () => listenFastify(async (fastify) => {
    const { default: fastifyExpress } = await import('@fastify/express')
    await fastify.register(fastifyExpress)
    fastify.use((req, res, next) => { req.url.startsWith('/__') ? next() : rawHandler(req, res) })
  }),
  middie: () => listenFastify(async (fastify) => {
    const { default: fastifyMiddie } = await import('@fastify/middie')
    await fastify.register(fastifyMiddie)
    fastify.use((req, res, next) => { req.url.startsWith('/__') ? next() : rawHandler(req, res) })
  }),
  'native-2-workers': () => listenNativeCluster(2),
  'cli-1-worker': () => listenCli(1),
  'cli-2-workers': () => listenCli(2),
  'gunicorn-2-workers': () => listenGunicorn(2),
  'node-http': () => new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      if (req.url === '/__cpu') {
        res.end(JSON.stringify(process.cpuUsage()))
        return
      }
      rawHandler(req, res)
    })
    server.listen(0, '127.0.0.1', () => resolve(server.address().port))
  })
}

if (!(contender in contenders)) {
  console.error(`unknown contender ${contender}; one of ${Object.keys(contenders).join(', ')}`)
  process.exit(2)
}
const port = await contenders[contender]()
// A cluster worker only serves: its primary speaks for the contender, and the workers exit with it.
if (cluster.isPrimary) {
  // Exiting, not killed: apps.mjs removes its file on exit.
  process.once('SIGTERM', () => process.exit(0))
  process.stdout.write(`READY ${port}\n`)
}
