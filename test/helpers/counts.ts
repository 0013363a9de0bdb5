import { Pool } from 'undici'
import { startServer } from '../../benchmarks/server-process.mjs'

/** One counting window of a benchmark server (benchmarks/probe.mjs), and the requests around it. */
export interface WindowOptions {
  path: string
  /** The probe's mode: gc, async, profile or allocations. */
  mode: string
  /** Requests before the window, for the JIT and the heap to settle. */
  warmUp: number
  /** Requests in the window. */
  measured: number
  connections: number
  nodeFlags?: string[]
}

/** GETs `path` `requests` times over the pool's connections; any status but 200 fails the load. */
async function load (pool: Pool, path: string, requests: number, connections: number): Promise<void> {
  let left = requests
  await Promise.all(Array.from({ length: connections }, async () => {
    while (left-- > 0) {
      const response = await pool.request({ path, method: 'GET' })
      if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}`)
      await response.body.dump()
    }
  }))
}

/**
 * Starts `contender` in a process of its own with the probe, warms it up,
 * then counts `measured` requests in one window: resolves with what
 * /__counts/stop answered. The server is stopped either way.
 */
export async function countWindow<Counts> (contender: string, options: WindowOptions): Promise<Counts> {
  const { path, mode, warmUp, measured, connections, nodeFlags = [] } = options
  const server = await startServer(contender, { nodeFlags, env: { BENCH_PROBE: '1' } })
  const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections })
  try {
    await load(pool, path, warmUp, connections)
    await (await pool.request({ path: `/__counts/start?mode=${mode}`, method: 'GET' })).body.dump()
    await load(pool, path, measured, connections)
    return await (await pool.request({ path: '/__counts/stop', method: 'GET' })).body.json() as Counts
  } finally {
    await pool.close()
    await server.stop()
  }
}
