// A benchmark server (servers.mjs) in a process of its own, for the benchmark scripts and the
// promotion test: fresh processes are how every figure here is taken.
import { spawn } from 'node:child_process'
import http2 from 'node:http2'
import { fileURLToPath } from 'node:url'

const SERVERS = fileURLToPath(new URL('./servers.mjs', import.meta.url))

/** GET a path over HTTP/1.1, or over HTTP/2 (h2c) on a session of its own; resolves with the body of a 200. */
async function getText (origin, path, h2) {
  if (!h2) {
    const response = await fetch(origin + path)
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`)
    return response.text()
  }
  const session = http2.connect(origin)
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': path })
      let body = ''
      stream.once('response', (headers) => { if (headers[':status'] !== 200) reject(new Error(`${path}: ${headers[':status']}`)) })
      stream.setEncoding('utf8').on('data', (chunk) => { body += chunk }).once('end', () => resolve(body)).once('error', reject)
    })
  } finally {
    session.close()
  }
}

/**
 * Starts `node <nodeFlags> servers.mjs <contender>` with `env` added to this process's
 * environment, under `wrapper` if given (a command and its arguments, such as valgrind's),
 * speaking HTTP/2 without TLS if `h2`; resolves once it listens, with its port, a get(path) for
 * its own routes (/__cpu, /__counts/...) and a stop() that ends it.
 */
export async function startServer (contender, { nodeFlags = [], env = {}, wrapper = [], h2 = false } = {}) {
  const command = [...wrapper, process.execPath, ...nodeFlags, SERVERS, contender]
  const child = spawn(command[0], command.slice(1), { env: { ...process.env, ...env, BENCH_H2: h2 ? '1' : '0' }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const ready = /READY (\d+)/.exec(output)
    if (ready !== null) {
      const port = Number(ready[1])
      const origin = `http://127.0.0.1:${port}`
      return { port, origin, pid: child.pid, h2, get: (path) => getText(origin, path, h2), stop: async () => { child.kill(); await exited } }
    }
  }
  throw new Error(`the ${contender} server did not start`)
}
