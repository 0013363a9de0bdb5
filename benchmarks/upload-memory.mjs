// Streams a 1 GiB upload into a fastify-wsgi app in `input: 'stream'` mode and into a native
// Fastify route that pipes request.raw to a null sink, each server in its own process, and
// records throughput and the server's peak RSS growth. Run: npm run bench:upload
import './node-option.mjs'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { appendResults, median, machine } from './report.mjs'

const UPLOAD_BYTES = Number(process.env.UPLOAD_BYTES ?? 1024 ** 3)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CONTENDERS = ['native', 'wsgi-stream']

if (process.argv[2] === 'server') await serve(process.argv[3])
else await main()

async function serve (kind) {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyWsgi } = await import('fastify-wsgi')
  const { Writable } = await import('node:stream')
  const { pipeline } = await import('node:stream/promises')
  const fastify = Fastify({ bodyLimit: 2 * UPLOAD_BYTES })
  let peak = 0
  let baseline = 0
  const sample = () => { peak = Math.max(peak, process.memoryUsage.rss()) }
  setInterval(sample, 10).unref()
  fastify.post('/__reset', async () => {
    globalThis.gc?.()
    baseline = process.memoryUsage.rss()
    peak = baseline
    return { baseline }
  })
  fastify.get('/__stats', async () => ({ baseline, peak }))
  if (kind === 'native') {
    await fastify.register(async (scope) => {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload))
      scope.post('/upload', async (request) => {
        let bytes = 0
        await pipeline(request.body, new Writable({ write (chunk, _encoding, callback) { bytes += chunk.length; callback() } }))
        return String(bytes)
      })
    })
  } else {
    await fastify.register(fastifyWsgi, {
      prefix: '/upload',
      input: 'stream',
      bodyLimit: 2 * UPLOAD_BYTES,
      app: async (environ, startResponse) => {
        let bytes = 0
        for await (const chunk of environ['wsgi.input'].chunks()) bytes += chunk.length
        startResponse('200 OK', [['Content-Type', 'text/plain']])
        return [String(bytes)]
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

/** Sends UPLOAD_BYTES as fast as the server takes them; resolves with the response text. */
async function upload (port, path) {
  const socket = connect({ port, host: '127.0.0.1' })
  await once(socket, 'connect')
  let response = ''
  socket.on('data', (chunk) => { response += chunk })
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${UPLOAD_BYTES}\r\nConnection: close\r\n\r\n`)
  const block = Buffer.alloc(256 * 1024, 'u')
  for (let sent = 0; sent < UPLOAD_BYTES; sent += block.length) {
    const piece = sent + block.length > UPLOAD_BYTES ? block.subarray(0, UPLOAD_BYTES - sent) : block
    if (!socket.write(piece)) await once(socket, 'drain')
  }
  await once(socket, 'close')
  return response
}

async function measure (kind) {
  const { child, port } = await startServer(kind)
  try {
    await upload(port, '/upload') // warm-up with the same size, so one-time allocations are not counted
    const { baseline } = await call(port, 'POST', '/__reset')
    const started = process.hrtime.bigint()
    const response = await upload(port, '/upload')
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (!response.startsWith('HTTP/1.1 200') || !response.endsWith(String(UPLOAD_BYTES))) {
      throw new Error(`${kind}: unexpected response ${response.slice(0, 200)}`)
    }
    const { peak } = await call(port, 'GET', '/__stats')
    return { mibPerSecond: UPLOAD_BYTES / 1024 / 1024 / seconds, rssGrowthMiB: (peak - baseline) / 1024 / 1024 }
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
    `Upload of ${(UPLOAD_BYTES / 1024 ** 3).toFixed(2)} GiB, median of ${ROUNDS} interleaved rounds (${await machine()}).`,
    '',
    '| contender | MiB/s | × native | RSS growth MiB (median) | RSS growth MiB (worst) |',
    '|---|---|---|---|---|',
    ...rows
  ].join('\n')
  console.log(table)
  await appendResults('Upload memory (benchmarks/upload-memory.mjs)', table)
}
