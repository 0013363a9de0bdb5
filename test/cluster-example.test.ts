// examples/cluster.ts: the example server on several workers sharing one port, spawned as a user runs it.
import { test } from 'tap'
import { spawn } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { waitFor } from './helpers/server.js'

const EXAMPLE = fileURLToPath(new URL('../dist/examples/cluster.js', import.meta.url))

function get (url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { text += chunk })
      response.on('end', () => resolve(text))
    }).on('error', reject)
  })
}

test('examples/cluster.ts: two workers serve the mounts on one port with wsgi.multiprocess, and SIGTERM stops them all', { timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, [EXAMPLE], { env: { ...process.env, PORT: '0', WORKERS: '2' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const records = (): Array<{ msg: string, pid: number }> => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  await waitFor(() => records().filter((record) => record.msg.startsWith('Server listening at')).length === 2, 20_000)
  const listening = records().filter((record) => record.msg.startsWith('Server listening at'))
  t.equal(listening.length, 2, 'two workers listen')
  t.equal(listening[0].msg, listening[1].msg, 'on the same address')
  const url = /http:\/\/\S+/.exec(listening[0].msg)?.[0] as string
  for (let i = 0; i < 10; i++) t.match(await get(`${url}/environ/`), /wsgi\.multiprocess<\/th><td>true/)
  t.equal(await get(`${url}/hello/x`), 'Hello from /hello/x\n')
  await waitFor(() => new Set(records().filter((record) => record.msg === 'request completed').map((record) => record.pid)).size === 2)
  t.equal(new Set(records().filter((record) => record.msg === 'request completed').map((record) => record.pid)).size, 2, 'both workers answered')
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  const workerPids = listening.map((record) => record.pid)
  for (const pid of workerPids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} stopped`)
})
