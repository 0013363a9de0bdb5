// Soak run (issue #7): a fastify-wsgi server in its own process under sustained mixed load, to
// show that nothing accumulates. autocannon keeps 100 connections busy with good, throwing and
// slow streaming apps while a raw-socket loop disconnects mid-body and reads responses that fail
// after their first bytes. Printed as a markdown summary (not written to RESULTS.md):
//   - requests served, and non-expected errors (target 0): wrong statuses or bodies, socket
//     errors and timeouts on the client side; error logs that are not the apps' own failures,
//     uncaught exceptions and unhandled rejections on the server side;
//   - server RSS at 30 s and near the end, each right after a full gc() in the server so that the
//     two reflect what is retained, not where the collector happened to be (target: growth < 10 %);
//   - open file descriptors before and after (/proc/<pid>/fd; target: back to the baseline);
//   - close() calls against bodies returned with a close() (target: equal).
// Run: npm run bench:soak [-- --duration <seconds>]   (default 120; Linux only, for /proc)
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { machine } from './report.mjs'

const CONNECTIONS = 100
const RAW_LOOPS = 8
/** Marks the errors the apps throw on purpose: every other error log is unexpected. */
const MARK = 'soak:'
const STREAM_CHUNK = 'y'.repeat(1024)

function durationArgument () {
  const index = process.argv.indexOf('--duration')
  const value = index === -1 ? 120 : Number(process.argv[index + 1])
  if (!(value > 0)) throw new Error('--duration takes a number of seconds')
  return value
}

// --- The server process ----------------------------------------------------------------------

async function serve () {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyWsgi } = await import('fastify-wsgi')
  const stats = { appCalls: 0, bodiesWithClose: 0, closes: 0, expectedErrorLogs: 0, unexpectedErrorLogs: 0, processErrors: 0, samples: [] }
  const unexpected = (what) => {
    if (stats.samples.length < 5) stats.samples.push(what)
  }
  process.on('uncaughtException', (err) => { stats.processErrors++; unexpected(`uncaughtException: ${err?.stack}`) })
  process.on('unhandledRejection', (err) => { stats.processErrors++; unexpected(`unhandledRejection: ${err?.stack}`) })
  // Only warnings and errors are logged (as in production); each is sorted into expected or not.
  const logs = new Writable({
    write (chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue
        const record = JSON.parse(line)
        if (String(record.err?.message ?? '').startsWith(MARK)) stats.expectedErrorLogs++
        else {
          stats.unexpectedErrorLogs++
          unexpected(line.slice(0, 500))
        }
      }
      callback()
    }
  })
  const withClose = (body) => {
    stats.bodiesWithClose++
    return Object.assign(body, { close: () => { stats.closes++ } })
  }
  const apps = {
    '/good': (_environ, startResponse) => {
      stats.appCalls++
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return withClose(['hello, soak'])
    },
    '/stream': (_environ, startResponse) => {
      stats.appCalls++
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return withClose((function * () { for (let i = 0; i < 32; i++) yield STREAM_CHUNK })())
    },
    '/slow': (_environ, startResponse) => {
      stats.appCalls++
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return withClose((async function * () {
        for (let i = 0; i < 10; i++) {
          yield `slow ${i}\n`
          await sleep(5)
        }
      })())
    },
    '/throw': () => {
      stats.appCalls++
      throw new Error(`${MARK} failure before the headers`)
    },
    '/throw-late': (_environ, startResponse) => {
      stats.appCalls++
      startResponse('200 OK', [['Content-Type', 'text/plain']])
      return withClose((function * () {
        yield 'partial'
        throw new Error(`${MARK} failure after the first chunk`)
      })())
    }
  }
  const fastify = Fastify({ logger: { level: 'warn', stream: logs } })
  for (const [prefix, app] of Object.entries(apps)) await fastify.register(fastifyWsgi, { prefix, app })
  fastify.get('/__stats', async (request) => {
    if (request.query.gc !== undefined) globalThis.gc?.()
    const { rss, heapUsed, external } = process.memoryUsage()
    return { ...stats, rss, heapUsed, external }
  })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`READY ${fastify.server.address().port}\n`)
}

// --- The load, from this process --------------------------------------------------------------

async function startServer () {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'server'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const match = /READY (\d+)/.exec(output)
    if (match) return { child, port: Number(match[1]) }
  }
  throw new Error('the soak server did not start')
}

/** GET on a connection of its own, closed after the response: no keep-alive socket stays open on the server. */
function getJson (port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let text = ''
      response.on('data', (chunk) => { text += chunk })
      response.on('end', () => resolve(JSON.parse(text)))
    }).on('error', reject)
  })
}

const openFds = (pid) => readdirSync(`/proc/${pid}/fd`).length
const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1)

/** One raw-socket client: aborts mid-body, or reads a response that fails after its first chunk. */
function rawClient (port, kind) {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let text = ''
    let settled = false
    const done = (outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => done('timeout'), 10000)
    socket.on('connect', () => socket.write(`GET /${kind} HTTP/1.1\r\nHost: soak\r\n\r\n`))
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      // An early disconnect: gone as soon as the body started.
      if (kind !== 'throw-late' && text.includes('\r\n\r\n')) done(text.startsWith('HTTP/1.1 200 ') ? 'ok' : 'bad status')
    })
    socket.on('error', () => done(kind === 'throw-late' ? 'reset' : 'socket error'))
    // A failed response ends with the connection, before its last chunk.
    socket.on('end', () => done(kind === 'throw-late' && text.startsWith('HTTP/1.1 200 ') && text.endsWith('7\r\npartial\r\n') ? 'ok' : 'incomplete response looked wrong'))
  })
}

async function rawLoop (port, until, counts) {
  const kinds = ['slow', 'stream', 'throw-late']
  for (let i = 0; Date.now() < until; i++) {
    const kind = kinds[i % kinds.length]
    const outcome = await rawClient(port, kind)
    counts.total++
    if (outcome !== 'ok') {
      counts.unexpected++
      if (counts.samples.length < 5) counts.samples.push(`${kind}: ${outcome}`)
    }
  }
}

async function runAutocannon (port, seconds, check) {
  const { default: autocannon } = await import('autocannon')
  const expect = (path, status, body) => ({
    method: 'GET',
    path,
    onResponse: (actualStatus, actualBody) => check(path, actualStatus === status && (body === undefined || actualBody === body))
  })
  const slowBody = Array.from({ length: 10 }, (_, i) => `slow ${i}\n`).join('')
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      expect('/good', 200, 'hello, soak'),
      expect('/stream', 200, STREAM_CHUNK.repeat(32)),
      expect('/throw', 500),
      expect('/slow', 200, slowBody),
      expect('/good', 200, 'hello, soak')
    ]
  })
}

async function main () {
  const seconds = durationArgument()
  const { child, port } = await startServer()
  const pid = child.pid
  try {
    // Warm-up, so one-time allocations and lazy modules are not counted as growth.
    for (const kind of ['good', 'stream', 'slow', 'throw', 'throw-late']) await rawClient(port, kind)
    await getJson(port, '/__stats')
    await sleep(500)
    const fdsBefore = openFds(pid)
    const started = Date.now()
    const until = started + seconds * 1000
    const checkAt = Math.min(30, seconds / 4)
    const endAt = Math.max(checkAt, seconds - Math.min(3, seconds / 10))
    let peak = 0
    const sampler = setInterval(() => { peak = Math.max(peak, rssOf(pid)) }, 250)
    // Both measured under load, right after a full collection in the server.
    const early = sleep(checkAt * 1000).then(() => getJson(port, '/__stats?gc'))
    const late = sleep(endAt * 1000).then(() => getJson(port, '/__stats?gc'))

    const client = { total: 0, unexpected: 0, samples: [] }
    const raw = { total: 0, unexpected: 0, samples: [] }
    const check = (path, ok) => {
      client.total++
      if (!ok) {
        client.unexpected++
        if (client.samples.length < 5) client.samples.push(`${path}: wrong status or body`)
      }
    }
    const [result] = await Promise.all([
      runAutocannon(port, seconds, check),
      ...Array.from({ length: RAW_LOOPS }, () => rawLoop(port, until, raw))
    ])
    clearInterval(sampler)
    const [atCheck, atEnd] = await Promise.all([early, late])

    // Let aborted connections finish their grace period, then measure what is left.
    let fdsAfter = openFds(pid)
    for (let i = 0; i < 100 && fdsAfter > fdsBefore; i++) {
      await sleep(100)
      fdsAfter = openFds(pid)
    }
    const stats = await getJson(port, '/__stats?gc')
    await sleep(200)
    fdsAfter = openFds(pid)
    const rssAfterGc = rssOf(pid)

    const growth = (atEnd.rss - atCheck.rss) / atCheck.rss
    const clientErrors = result.errors + result.timeouts + result.mismatches
    const unexpected = client.unexpected + clientErrors + raw.unexpected + stats.unexpectedErrorLogs + stats.processErrors
    const targets = [
      ['non-expected errors', unexpected === 0],
      ['RSS growth < 10 %', growth < 0.1],
      ['file descriptors back to the baseline', fdsAfter <= fdsBefore],
      ['close() calls = bodies returned with close()', stats.closes === stats.bodiesWithClose]
    ]
    const lines = [
      `## Soak: ${seconds} s, ${CONNECTIONS} autocannon connections + ${RAW_LOOPS} raw-socket loops`,
      '',
      await machine(),
      '',
      '| measure | value |',
      '|---|---|',
      `| requests served by the apps | ${stats.appCalls} |`,
      `| autocannon responses (checked status and body) | ${client.total} (${(client.total / seconds).toFixed(0)}/s) |`,
      `| raw-socket exchanges (early disconnects, failed-after-first-chunk reads) | ${raw.total} |`,
      `| non-expected errors | ${unexpected} (wrong responses ${client.unexpected}, autocannon errors ${result.errors}, timeouts ${result.timeouts}, mismatches ${result.mismatches}, raw loop ${raw.unexpected}, error logs ${stats.unexpectedErrorLogs}, process errors ${stats.processErrors}) |`,
      `| expected error logs (the apps' own failures) | ${stats.expectedErrorLogs} |`,
      `| RSS after gc() at ${checkAt} s / at ${endAt} s | ${mib(atCheck.rss)} / ${mib(atEnd.rss)} MiB (growth ${(growth * 100).toFixed(1)} %) |`,
      `| V8 heap used / external memory after gc() at ${checkAt} s / at ${endAt} s | ${mib(atCheck.heapUsed)} / ${mib(atCheck.external)} → ${mib(atEnd.heapUsed)} / ${mib(atEnd.external)} MiB |`,
      `| RSS peak under load (sampled every 250 ms) / after the load and gc() | ${mib(peak)} / ${mib(rssAfterGc)} MiB |`,
      `| open file descriptors before / after | ${fdsBefore} / ${fdsAfter} |`,
      `| bodies returned with close() / close() calls | ${stats.bodiesWithClose} / ${stats.closes} |`,
      '',
      ...targets.map(([name, ok]) => `- ${ok ? 'PASS' : 'FAIL'}: ${name}`)
    ]
    const samples = [...client.samples, ...raw.samples, ...stats.samples]
    if (samples.length > 0) lines.push('', 'First unexpected outcomes:', ...samples.map((sample) => `- ${sample}`))
    console.log(lines.join('\n'))
    if (targets.some(([, ok]) => !ok)) process.exitCode = 1
  } finally {
    child.kill()
  }
}

if (process.argv[2] === 'server') await serve()
else await main()
