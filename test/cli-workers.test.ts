// The fastify-wsgi CLI with --workers: a node:cluster supervisor, spawned as a user runs it, over real sockets.
import { test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from './helpers/server.js'
import { dir, get, gone, listening, modules, pidOf, runCli, sleep, trackPids } from './helpers/cli.js'

// Each test boots several processes, on a machine that may be busy.
const clustered = { timeout: 60_000 }

/** The workers answering /pid over up to `requests` requests (stopping once `enough` have), each tracked for clean-up. */
async function answeringWorkers (url: string, tracked: Set<number>, requests: number, enough = Infinity): Promise<Set<number>> {
  const answering = new Set<number>()
  for (let i = 0; i < requests && answering.size < enough; i++) answering.add(pidOf((await get(`${url}/pid`)).text))
  for (const pid of answering) tracked.add(pid)
  return answering
}

test('--workers 2: both workers answer, wsgi.multiprocess is true, a killed worker is replaced, SIGTERM exits 0', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  t.match(cli.stdout(), `(primary ${cli.child.pid}, 2 workers)`)
  const answers = await Promise.all(Array.from({ length: 40 }, () => get(`${url}/pid`)))
  for (const answer of answers) {
    pids.add(pidOf(answer.text))
    t.match(answer.text, / \|\/pid 0 true$/)
  }
  t.equal(pids.size, 2, 'two workers answered')
  t.notOk(pids.has(cli.child.pid as number), 'the primary serves nothing')
  const [victim, survivor] = [...pids]
  process.kill(victim, 'SIGKILL')
  await waitFor(() => cli.stderr().includes(`worker ${victim} died (SIGKILL); starting a new one`), 5000)
  const seen = new Set<number>()
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && seen.size < 2;) {
    const pid = pidOf((await get(`${url}/pid`)).text)
    seen.add(pid)
    pids.add(pid)
  }
  t.equal(seen.size, 2, 'two workers again')
  t.ok(seen.has(survivor))
  t.notOk(seen.has(victim), 'the killed worker is gone')
  await get(`${url}/exit`).catch(() => {})
  await waitFor(() => / died \(exit code 3\); starting a new one/.test(cli.stderr()), 5000)
  t.match(cli.stderr(), / died \(exit code 3\); starting a new one/, 'a worker that exits is replaced too')

  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
  for (const pid of seen) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} stopped`)
})

test('--workers: SIGTERM during a slow streamed response lets it complete and exits 0', clustered, async (t) => {
  trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', modules.app])
  const url = await listening(cli)
  const response = get(`${url}/slow`)
  await sleep(100)
  cli.child.kill('SIGTERM')
  t.equal((await response).text, 'line 0\nline 1\nline 2\nline 3\nline 4\n')
  t.same(await cli.exited, { code: 0, signal: null })
  t.match(cli.stderr(), 'closed /slow')
})

test('SIGHUP under load: every worker is replaced and no request fails', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  const before = await answeringWorkers(url, pids, 20, 2)
  const failures: unknown[] = []
  const after = new Set<number>()
  let answered = 0
  const load = { running: true }
  const client = async (): Promise<void> => {
    while (load.running) {
      try {
        const answer = await get(`${url}/pid`)
        if (answer.status !== 200) failures.push(answer.status)
        const pid = pidOf(answer.text)
        pids.add(pid)
        if (!before.has(pid)) after.add(pid)
        answered++
      } catch (err) {
        failures.push(err)
      }
    }
  }
  const clients = Array.from({ length: 8 }, client)
  await waitFor(() => answered > 50, 5000)
  cli.child.kill('SIGHUP')
  await waitFor(() => after.size >= 2, 15_000)
  // The old workers are gone once only new ones answer.
  await waitFor(() => [...before].every(gone), 10_000)
  const answeredAfterReload = answered
  await waitFor(() => answered > answeredAfterReload + 50, 5000)
  load.running = false
  await Promise.all(clients)
  t.same(failures, [], `no failed request out of ${answered}`)
  t.equal(after.size, 2, 'two new workers')
  for (const pid of before) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `old worker ${pid} stopped`)
  t.notMatch(cli.stderr(), 'died', 'no worker was counted as crashed')
  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
})

test('two SIGHUPs in a row: a worker still finishing a response is not replaced twice, and the response completes', clustered, async (t) => {
  const pids = trackPids(t)
  const cli = runCli(t, ['--port', '0', '--workers', '2', '--log-level', 'warn', modules.app])
  const url = await listening(cli)
  const old = await answeringWorkers(url, pids, 20, 2)
  // An old worker holds this response until the test releases it, after both reloads.
  const release = join(dir, `release-${process.hrtime.bigint()}`)
  const held = get(`${url}/hold?${release}`)
  await sleep(100)
  cli.child.kill('SIGHUP')
  await sleep(50)
  cli.child.kill('SIGHUP')
  await waitFor(() => cli.stdout().split('fastify-wsgi: reloaded').length === 3, 30_000)
  t.equal(cli.stdout().split('fastify-wsgi: reloaded').length, 3, 'two reloads done')
  const reported = [...cli.stdout().matchAll(/fastify-wsgi: reloaded \(workers ([\d, ]+)\)/g)].map((match) => match[1].split(', ').map(Number))
  // The workers the first reload started and the second replaced may take a last connection
  // while their SIGTERM is on its way: count the workers that serve once those have exited.
  await waitFor(() => reported[0].filter((pid) => !reported[1].includes(pid)).every(gone), 10_000)
  // 2 workers, or 3 if the second reload had replaced the retiring one, still alive, again.
  const answering = await answeringWorkers(url, pids, 40)
  t.equal(answering.size, 2, 'two workers serve')
  for (const pid of answering) t.notOk(old.has(pid), 'new workers only')
  t.same(reported[1].sort(), [...answering].sort(), 'the second reload names the workers that serve')
  writeFileSync(release, '')
  t.match((await held).text, /^\.+released$/, 'the held response completed')
  t.notMatch(cli.stderr(), 'died', 'nothing died')
  cli.child.kill('SIGTERM')
  t.same(await cli.exited, { code: 0, signal: null })
})
