// Streams a 1 GiB response body from a generator to a client that reads slowly for the first
// seconds (SLOW_MIB_PER_SECOND for SLOW_SECONDS), then at full speed, from a fastify-wsgi mount
// and from a native Fastify route sending a Readable of the same generator. Each server runs in
// its own process; the table gives throughput and the server's peak RSS growth.
// Run: npm run bench:download
import './node-option.mjs'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { appendResults, median, machine } from './report.mjs'

const DOWNLOAD_BYTES = Number(process.env.DOWNLOAD_BYTES ?? 1024 ** 3)
const CHUNK_BYTES = 64 * 1024
const SLOW_MIB_PER_SECOND = Number(process.env.SLOW_MIB_PER_SECOND ?? 10)
const SLOW_SECONDS = Number(process.env.SLOW_SECONDS ?? 3)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CONTENDERS = ['native', 'wsgi']

if (process.argv[2] === 'server') await serve(process.argv[3])
else await main()

function * body () {
  const chunk = Buffer.alloc(CHUNK_BYTES, 'd')
  for (let sent = 0; sent < DOWNLOAD_BYTES; sent += CHUNK_BYTES) {
    // A fresh copy per chunk, as a real app producing data would allocate it.
    yield Buffer.from(chunk.subarray(0, Math.min(CHUNK_BYTES, DOWNLOAD_BYTES - sent)))
  }
}

async function serve (kind) {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyWsgi } = await import('fastify-wsgi')
  const { Readable } = await import('node:stream')
  const fastify = Fastify()
  let peak = 0
  let baseline = 0
  setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 10).unref()
  fastify.post('/__reset', async () => {
    globalThis.gc?.()
    baseline = process.memoryUsage.rss()
    peak = baseline
    return { baseline }
  })
  fastify.get('/__stats', async () => ({ baseline, peak }))
  if (kind === 'native') {
    fastify.get('/download', (_request, reply) => {
      reply.type('application/octet-stream').send(Readable.from(body(), { objectMode: false }))
    })
  } else {
    await fastify.register(fastifyWsgi, {
      prefix: '/download',
      app: (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'application/octet-stream']])
        return body()
      }
    })
  }
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`READY ${fastify.server.address().port}\n`)
}

async function startServer (kind) {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), 'server', kind], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const match = /READY (\d+)/.exec(output)
    if (match) return { child, port: Number(match[1]) }
  }
  throw new Error(`${kind} server did not start`)
}

async function call (port, method, path) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method })
  return response.json()
}

/**
 * Reads the whole response over a raw socket, throttled to the slow rate for the first
 * SLOW_SECONDS; resolves with the number of body bytes (chunked framing included).
 */
async function download (port, path, { slow }) {
  const socket = connect({ port, host: '127.0.0.1' })
  await once(socket, 'connect')
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
  const started = Date.now()
  let received = 0
  let head = ''
  for await (const chunk of socket) {
    if (head.length < 512) head += chunk.toString('latin1', 0, Math.min(chunk.length, 512))
    received += chunk.length
    const elapsed = (Date.now() - started) / 1000
    if (slow && elapsed < SLOW_SECONDS) {
      // Sleeping here stops consuming the socket, so TCP pushes back on the server.
      const ahead = received / (SLOW_MIB_PER_SECOND * 1024 * 1024) - elapsed
      if (ahead > 0) await sleep(ahead * 1000)
    }
  }
  return { head, received }
}

async function measure (kind) {
  const { child, port } = await startServer(kind)
  try {
    await download(port, '/download', { slow: false }) // warm-up: one-time allocations are not counted
    const { baseline } = await call(port, 'POST', '/__reset')
    const started = process.hrtime.bigint()
    const { head, received } = await download(port, '/download', { slow: true })
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (!head.startsWith('HTTP/1.1 200') || received < DOWNLOAD_BYTES) {
      throw new Error(`${kind}: unexpected response (${received} bytes) ${head.slice(0, 200)}`)
    }
    const { peak } = await call(port, 'GET', '/__stats')
    return { mibPerSecond: DOWNLOAD_BYTES / 1024 / 1024 / seconds, rssGrowthMiB: (peak - baseline) / 1024 / 1024 }
  } finally {
    child.kill()
  }
}

async function main () {
  const runs = Object.fromEntries(CONTENDERS.map((kind) => [kind, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of CONTENDERS) runs[kind].push(await measure(kind))
  }
  const native = median(runs.native.map((run) => run.mibPerSecond))
  const rows = CONTENDERS.map((kind) => {
    const throughput = median(runs[kind].map((run) => run.mibPerSecond))
    const growth = median(runs[kind].map((run) => run.rssGrowthMiB))
    const worst = Math.max(...runs[kind].map((run) => run.rssGrowthMiB))
    return `| ${kind} | ${throughput.toFixed(0)} | ${(throughput / native).toFixed(2)} | ${growth.toFixed(1)} | ${worst.toFixed(1)} |`
  })
  const table = [
    `Download of ${(DOWNLOAD_BYTES / 1024 ** 3).toFixed(2)} GiB from a generator of ${CHUNK_BYTES / 1024} KiB chunks; the client reads at ${SLOW_MIB_PER_SECOND} MiB/s for the first ${SLOW_SECONDS} s, then at full speed. Median of ${ROUNDS} interleaved rounds (${await machine()}).`,
    '',
    '| contender | MiB/s | × native | RSS growth MiB (median) | RSS growth MiB (worst) |',
    '|---|---|---|---|---|',
    ...rows
  ].join('\n')
  console.log(table)
  await appendResults('Download memory (benchmarks/download-memory.mjs)', table)
}
