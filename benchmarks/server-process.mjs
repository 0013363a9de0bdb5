// A benchmark server (servers.mjs) in a process of its own, for the benchmark scripts and the
// promotion test: fresh processes are how every figure here is taken.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SERVERS = fileURLToPath(new URL('./servers.mjs', import.meta.url))

/**
 * Starts `node <nodeFlags> servers.mjs <contender>` with `env` added to this process's
 * environment, under `wrapper` if given (a command and its arguments, such as valgrind's);
 * resolves once it listens, with its port and a stop() that ends it.
 */
export async function startServer (contender, { nodeFlags = [], env = {}, wrapper = [] } = {}) {
  const command = [...wrapper, process.execPath, ...nodeFlags, SERVERS, contender]
  const child = spawn(command[0], command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let output = ''
  for await (const chunk of child.stdout) {
    output += chunk
    const ready = /READY (\d+)/.exec(output)
    if (ready !== null) {
      const port = Number(ready[1])
      return { port, origin: `http://127.0.0.1:${port}`, pid: child.pid, stop: async () => { child.kill(); await exited } }
    }
  }
  throw new Error(`the ${contender} server did not start`)
}
