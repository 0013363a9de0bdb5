// examples/cluster.ts: the example server on several workers sharing one port, spawned as a user runs it.
import { test } from 'tap'
import { spawn } from 'node:child_process'
import http from 'node:http'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { waitFor } from './helpers/server.js'

const EXAMPLE = fileURLToPath(new URL('../dist/examples/cluster.js', import.meta.url))

/** Sends a request and leaves as soon as the first bytes of the response arrive. */
function leaveEarly (url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      response.once('data', () => { request.destroy(); resolve() })
    })
    request.on('error', reject)
  })
}

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

test('examples/cluster.ts: a worker per core serves the mounts on one port with wsgi.multiprocess, a killed worker is replaced, and SIGTERM stops them all', { timeout: 60_000 }, async (t) => {
  const child = spawn(process.execPath, [EXAMPLE], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const records = (): Array<{ msg: string, pid: number, level: number }> => stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line))
  const cores = availableParallelism()
  await waitFor(() => records().filter((record) => record.msg.startsWith('Server listening at')).length === cores, 20_000)
  const listening = records().filter((record) => record.msg.startsWith('Server listening at'))
  t.equal(listening.length, cores, 'a worker per core listens')
  t.equal(new Set(listening.map((record) => record.msg)).size, 1, 'all on the same address')
  const url = /http:\/\/\S+/.exec(listening[0].msg)?.[0] as string
  // A worker killed first: the requests below are served by workers that exit cleanly (and write their coverage).
  const victim = listening[0].pid
  process.kill(victim, 'SIGKILL')
  await waitFor(() => records().filter((record) => record.msg.startsWith('Server listening at')).length === cores + 1, 20_000)
  t.match(stderr, `worker ${victim} died (exit code null, signal SIGKILL); starting a new one`)
  t.equal(records().filter((record) => record.msg.startsWith('Server listening at')).length, cores + 1, 'a new worker replaced it')
  for (let i = 0; i < 10; i++) t.match(await get(`${url}/environ/`), /wsgi\.multiprocess<\/th><td>true/)
  t.equal(await get(`${url}/hello/x`), 'Hello from /hello/x\n')
  t.equal(await get(`${url}/stream?from=1`), '1...\nliftoff\n')
  await leaveEarly(`${url}/stream`)
  await waitFor(() => stdout.includes('countdown from 5 closed'), 5000)
  t.match(stdout, 'countdown from 5 closed', 'a client that leaves ends the countdown (from 5 by default)')
  t.equal(records().find((record) => record.msg === 'countdown from 5 closed')?.level, 30, 'a normal close is logged at info level')
  // 13 requests above, each on a connection of its own: the primary hands them to the workers in turn.
  const answered = (): number => new Set(records().filter((record) => record.msg === 'request completed').map((record) => record.pid)).size
  await waitFor(() => answered() === Math.min(cores, 13))
  t.equal(answered(), Math.min(cores, 13), 'the workers answered in turn')
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  const workerPids = records().filter((record) => record.msg.startsWith('Server listening at')).map((record) => record.pid).filter((pid) => pid !== victim)
  for (const pid of workerPids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} stopped`)
})
