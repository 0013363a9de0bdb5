// What fastify-wsgi's own code costs per request, in-process and without sockets: the same
// real ServerResponse is answered once directly (writeHead + end, as a hijacked native route
// does) and once by runWsgi with the benchmark app, and the difference is our work: the environ,
// startResponse's checks, the header preamble, the body protocol. Load tests over loopback
// (run.mjs) move by 10-20 % between runs on a shared machine; this moves by a few percent, so
// it is the one to compare optimisations with. Run: npm run bench:overhead
import './node-option.mjs'
import { ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { runWsgi } from '../dist/lib/fastify/run.js'
import { defaultSettings } from '../dist/lib/options.js'
import { HELLO, legacyText, wsgiApp } from './apps.mjs'
import { fakeRequest, headerObject } from './fake-request.mjs'
import { appendResults, machine, median } from './report.mjs'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '21' },
    requests: { type: 'string', default: '50000' }
  }
})

// The request headers autocannon sends, and a browser's.
const HEADER_SETS = {
  autocannon: ['Host', 'localhost:3000'],
  browser: [
    'Host', 'localhost:3000', 'Connection', 'keep-alive', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64)',
    'Accept', 'text/html,application/xhtml+xml', 'Accept-Encoding', 'gzip, deflate, br', 'Accept-Language', 'en-GB,en;q=0.9',
    'Cookie', 'theme=dark; session=abc123', 'Referer', 'http://localhost:3000/'
  ]
}
const HEADER_OBJECTS = Object.fromEntries(Object.entries(HEADER_SETS).map(([name, raw]) => [name, headerObject(raw)]))
const CASES = [
  { name: 'hello', path: '/hello', headers: 'autocannon' },
  { name: 'hello', path: '/hello', headers: 'browser' },
  { name: 'legacy', path: '/legacy?name=ada&x=1', headers: 'browser' }
]

// The parts of Fastify's request and reply that the handler reads.
const log = { error () {}, warn () {}, info () {}, debug () {} }
class Request {
  constructor (raw) {
    this.raw = raw
    this.headers = raw.headers
    this.body = undefined
    this.log = log
  }

  get protocol () { return 'http' }
  get host () { return this.raw.headers.host ?? '' }
  get ip () { return this.raw.socket.remoteAddress }
}
// Fastify keeps reply.header() values under this symbol; the handler looks there before it pays for getHeaders().
const kReplyHeaders = Symbol('fastify.reply.headers')
class Reply {
  constructor (request, raw) {
    this.request = request
    this.raw = raw
    this.sent = false
    this[kReplyHeaders] = {}
  }

  hijack () { this.sent = true }
  getHeaders () { return { ...this.raw.getHeaders(), ...this[kReplyHeaders] } }
}

function exchange ({ path, headers }) {
  const req = fakeRequest(path, HEADER_SETS[headers], HEADER_OBJECTS[headers])
  const request = new Request(req)
  return { request, reply: new Reply(request, new ServerResponse(req)) }
}

const settings = defaultSettings(1024 * 1024, { closing: false, sessions: new Set(), running: new Set() })

/** The same response without our code: what a hijacked native route writes. */
function direct (testCase) {
  const { request, reply } = exchange(testCase)
  const raw = request.raw
  const query = raw.url.includes('?') ? raw.url.slice(raw.url.indexOf('?') + 1) : ''
  const body = testCase.name === 'hello' ? HELLO : legacyText(raw.method, '/legacy', query, raw.headers.cookie, raw.headers['user-agent'])
  reply.hijack()
  reply.raw.writeHead(200, 'OK', ['Content-Type', 'text/plain', 'Server', settings.serverSoftware, 'Content-Length', String(Buffer.byteLength(body))])
  reply.raw.end(body)
}

function throughWsgi (testCase) {
  const { request, reply } = exchange(testCase)
  runWsgi(request, reply, wsgiApp, settings)
}

/** Nanoseconds per request over `count` requests. */
function time (run, testCase, count) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) run(testCase)
  return Number(process.hrtime.bigint() - start) / count
}

const count = Number(args.requests)
const lines = ['| request | headers | direct ns | through fastify-wsgi ns | our cost ns |', '|---|---|---|---|---|']
for (const testCase of CASES) {
  // Warm up both paths, then alternate them so drift in the machine's speed hits both alike.
  time(direct, testCase, count * 4)
  time(throughWsgi, testCase, count * 4)
  const directNs = []
  const wsgiNs = []
  for (let round = 0; round < Number(args.rounds); round++) {
    directNs.push(time(direct, testCase, count))
    wsgiNs.push(time(throughWsgi, testCase, count))
  }
  const base = median(directNs)
  const ours = median(wsgiNs)
  lines.push(`| ${testCase.name} | ${testCase.headers} (${HEADER_SETS[testCase.headers].length / 2}) | ${base.toFixed(0)} | ${ours.toFixed(0)} | ${(ours - base).toFixed(0)} |`)
}
const body = `${await machine()}. In-process, no sockets: median of ${args.rounds} alternating rounds of ${count} requests each.\n\n${lines.join('\n')}\n`
console.log(body)
await appendResults('Per-request cost in-process (benchmarks/overhead.mjs)', body)
