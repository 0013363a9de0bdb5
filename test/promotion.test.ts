// The pretenuring guard (issue #17): a per-request closure stored on a per-request object once
// made V8 allocate every request's environ in old space, so each request's objects were promoted
// and collected by mark-compacts: about 2,600 promoted bytes per request where native Fastify
// promotes 1-2. With a fixed semi-space it shows within a few thousand requests, deterministically.
// The benchmark server runs in its own process and reports its collector's work itself.
import { test } from 'tap'
import { Pool } from 'undici'
import { startServer } from '../benchmarks/server-process.mjs'
const WARM_UP = 5000
const MEASURED = 20_000
const CONNECTIONS = 50
/** Native Fastify promotes 1-2 bytes per request here; the bug promoted over 2,000. */
const PROMOTED_BYTES_BOUND = 64

interface Counts { requests: number, gc: { promoted: number, pretenured: number, markCompacts: number } }

async function load (pool: Pool, path: string, requests: number): Promise<void> {
  let left = requests
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (left-- > 0) {
      const response = await pool.request({ path, method: 'GET' })
      if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}`)
      await response.body.dump()
    }
  }))
}

async function promotion (contender: string, path: string): Promise<Counts> {
  const server = await startServer(contender, { nodeFlags: ['--min-semi-space-size=16', '--max-semi-space-size=16'], env: { BENCH_PROBE: '1' } })
  const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections: CONNECTIONS })
  try {
    await load(pool, path, WARM_UP)
    await (await pool.request({ path: '/__counts/start?mode=gc', method: 'GET' })).body.dump()
    await load(pool, path, MEASURED)
    return await (await pool.request({ path: '/__counts/stop', method: 'GET' })).body.json() as Counts
  } finally {
    await pool.close()
    await server.stop()
  }
}

for (const [contender, path] of [['wsgi-mount', '/hello'], ['wsgi-mount', '/legacy?name=ada'], ['wsgi-onsend', '/hello'], ['wsgi-reply', '/hello']]) {
  test(`${contender} ${path}: requests promote no more than native's order of bytes under a fixed 16 MB semi-space`, { timeout: 30_000 }, async (t) => {
    const counts = await promotion(contender, path)
    t.equal(counts.requests, MEASURED, 'the window held the measured requests')
    const promotedPerRequest = counts.gc.promoted / counts.requests
    t.ok(promotedPerRequest <= PROMOTED_BYTES_BOUND, `${promotedPerRequest.toFixed(1)} promoted bytes per request (bound ${PROMOTED_BYTES_BOUND})`)
    t.equal(counts.gc.markCompacts, 0, 'no mark-compact ran')
  })
}
