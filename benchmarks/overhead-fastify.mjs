// The whole per-request path through Fastify, in-process and without sockets: a native route,
// a mount, the mount with onSendHooks, and reply.wsgi, each a real Fastify instance in a worker
// thread of its own (so no contender's shapes reach another's inline caches), handed the same
// fake request through fastify.routing(req, res), taking turns round by round. What it leaves
// out (the parser, syscalls, the event loop) is the same for every contender, so the ratios show
// what the contenders' own JavaScript costs, where load tests move by 20 %. Each worker's JIT
// settles its own way, though, and one can stay 5-10 % off another for its life: `--compare <path
// to another build's dist/lib/index.js>` adds that build's mount and onSendHooks as contenders, an
// A/B of a change run side by side, to be repeated before a difference under 10 % is believed.
// Run: npm run bench:overhead (after overhead.mjs), or node benchmarks/overhead-fastify.mjs
import './node-option.mjs'
import { ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import Fastify from 'fastify'
import fastifyWsgi from 'fastify-wsgi'
import { BROWSER_HEADERS, HELLO, wsgiApp } from './apps.mjs'
import { fakeRequest, headerObject } from './fake-request.mjs'
import { appendResults, machine, median } from './report.mjs'

const { values: args } = isMainThread
  ? parseArgs({
    options: {
      rounds: { type: 'string', default: '15' },
      requests: { type: 'string', default: '20000' },
      compare: { type: 'string' }
    }
  })
  : { values: workerData.args }

const ONE_HEADER = ['Host', 'localhost:3000']
const BROWSER = ['Host', 'localhost:3000', ...Object.entries(BROWSER_HEADERS).flat()]
const CASES = [
  { name: 'hello, 1 request header', url: '/hello', rawHeaders: ONE_HEADER, headers: headerObject(ONE_HEADER) },
  { name: 'hello, 11 request headers, /app prefix', url: '/app/hello', rawHeaders: BROWSER, headers: headerObject(BROWSER) }
]

async function contender (register) {
  const fastify = Fastify({ logger: false })
  await register(fastify)
  await fastify.ready()
  return fastify
}

function mounts (plugin, options) {
  return async (fastify) => {
    await fastify.register(plugin, { app: wsgiApp, ...options })
    await fastify.register(plugin, { prefix: '/app', app: wsgiApp, ...options })
  }
}

const CONTENDERS = {
  native: () => (fastify) => {
    const hello = (_request, reply) => { reply.type('text/plain').send(HELLO) }
    fastify.get('/hello', hello)
    fastify.get('/app/hello', hello)
  },
  'wsgi-mount': () => mounts(fastifyWsgi, {}),
  'wsgi-onsend': () => mounts(fastifyWsgi, { onSendHooks: true }),
  'wsgi-reply': () => async (fastify) => {
    await fastify.register(fastifyWsgi)
    fastify.get('/hello', (_request, reply) => reply.wsgi(wsgiApp))
    fastify.get('/app/*', (_request, reply) => reply.wsgi(wsgiApp, { scriptName: '/app' }))
  },
  'wsgi-mount (compared build)': async () => mounts((await import(args.compare)).default, {}),
  'wsgi-onsend (compared build)': async () => mounts((await import(args.compare)).default, { onSendHooks: true })
}

/** One request as Node's server hands it over, answered by Fastify; returns the response. */
function exchange (fastify, { url, rawHeaders, headers }) {
  const req = fakeRequest(url, rawHeaders, headers)
  const res = new ServerResponse(req)
  fastify.routing(req, res)
  return res
}

/** Nanoseconds per request; the event loop turns now and then, as Fastify defers some work. */
async function time (fastify, testCase, count) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) {
    exchange(fastify, testCase)
    if (i % 256 === 255) await new Promise(setImmediate)
  }
  await new Promise(setImmediate)
  return Number(process.hrtime.bigint() - start) / count
}

/** A worker: one contender, answering the main thread's requests for timed runs. */
async function serveContender () {
  const fastify = await contender(await CONTENDERS[workerData.name]())
  // It answers right, then warms up on every case before any is measured.
  for (const testCase of CASES) {
    const answer = exchange(fastify, testCase).outputData.map((chunk) => String(chunk.data)).join('')
    if (!/^HTTP\/1\.1 200 OK\r\n/.test(answer) || !answer.endsWith(HELLO)) throw new Error(`${workerData.name} ${testCase.url}: unexpected answer ${JSON.stringify(answer)}`)
  }
  const count = Number(args.requests)
  for (const testCase of CASES) await time(fastify, testCase, count * 3)
  parentPort.on('message', async (caseIndex) => {
    parentPort.postMessage(await time(fastify, CASES[caseIndex], count))
  })
  parentPort.postMessage('ready')
}

/** Starts a contender's worker and waits until it is warm; `run(caseIndex)` then times one round. */
async function startWorker (name) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { name, args } })
  const next = () => new Promise((resolve, reject) => {
    const onError = (err) => reject(err)
    worker.once('error', onError)
    worker.once('message', (message) => {
      worker.off('error', onError)
      resolve(message)
    })
  })
  await next()
  return { worker, run: (caseIndex) => { worker.postMessage(caseIndex); return next() } }
}

async function main () {
  const names = ['native', 'wsgi-mount', 'wsgi-onsend', 'wsgi-reply']
  if (args.compare !== undefined) names.push('wsgi-mount (compared build)', 'wsgi-onsend (compared build)')
  // One at a time: two workers warming up at once would share the cores.
  const workers = []
  for (const name of names) workers.push(await startWorker(name))
  const lines = [
    `| request | ${names.map((name) => `${name} ns`).join(' | ')} | ${names.slice(1).map((name) => `${name} × native`).join(' | ')} |`,
    `|---|${names.map(() => '---|').join('')}${names.slice(1).map(() => '---|').join('')}`
  ]
  for (const [caseIndex, testCase] of CASES.entries()) {
    const samples = names.map(() => [])
    for (let round = 0; round < Number(args.rounds); round++) {
      // Turns reversed every other round, so a drift in the machine's speed hits every contender alike.
      const order = round % 2 === 0 ? [...names.keys()] : [...names.keys()].reverse()
      for (const i of order) samples[i].push(await workers[i].run(caseIndex))
    }
    const ns = samples.map(median)
    lines.push(`| ${testCase.name} | ${ns.map((value) => value.toFixed(0)).join(' | ')} | ${ns.slice(1).map((value) => (ns[0] / value).toFixed(2)).join(' | ')} |`)
  }
  for (const { worker } of workers) await worker.terminate()
  const body = `${await machine()}. In-process through Fastify (fastify.routing with a fake socket), no parser or syscalls, each contender in a worker thread of its own: median of ${args.rounds} rounds of ${args.requests} requests per contender, taking turns. "× native" is native's time over the contender's: the share of native's throughput the contender's JavaScript would allow.\n\n${lines.join('\n')}\n`
  console.log(body)
  if (args.compare === undefined) await appendResults('Per-request cost through Fastify, in-process (benchmarks/overhead-fastify.mjs)', body)
}

if (isMainThread) await main()
else await serveContender()
