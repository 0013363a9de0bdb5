// Load generators for the benchmark scripts, each reporting what it sent and what it cost itself:
// wrk (HTTP/1.1) and h2load (HTTP/2) when they are on PATH (Debian: apt-get install wrk
// nghttp2-client), autocannon in this process otherwise. A C client costs a fraction of what
// autocannon costs per request, so on a small machine it leaves the server to be the bottleneck.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'

export function onPath (command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

export const HAVE_WRK = onPath('wrk')
export const HAVE_H2LOAD = onPath('h2load')

const CLOCK_TICKS = 100
/**
 * CPU time of this process's reaped children, in µs (/proc/self/stat cutime + cstime): what a
 * client run in a child process used, read before and after it.
 */
function childrenCpuMicros () {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 1e6 / CLOCK_TICKS
}

function run (command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk) => { output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk) => { output += chunk })
    child.once('error', reject)
    child.once('exit', (code) => code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output}`)))
  })
}

// wrk reports through a Lua done() hook: one JSON line, no text to scrape.
const WRK_SCRIPT = join(tmpdir(), `fastify-wsgi-bench-wrk-${process.pid}.lua`)
writeFileSync(WRK_SCRIPT, `
done = function (summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"durationMicros":%d,"bytes":%d,"errors":%d,"badStatus":%d,"p50":%.3f,"p99":%.3f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`)
process.once('exit', () => rmSync(WRK_SCRIPT, { force: true }))

/**
 * One measured run of `seconds` against `url`; returns requests, req/s, latency (ms), MiB/s,
 * errors (including unexpected statuses) and the client's own CPU µs.
 * `scenario`: { method, headers, body, expectStatus }; `h2` picks h2load.
 */
export async function load ({ url, scenario, seconds, connections = 50, h2 = false }) {
  if (h2 && HAVE_H2LOAD) return h2loadRun(url, scenario, seconds, connections)
  if (h2) throw new Error('HTTP/2 scenarios need h2load (Debian: apt-get install nghttp2-client)')
  // wrk has no request body without a script of its own: POST scenarios use autocannon.
  if (HAVE_WRK && scenario.body === undefined) return wrkRun(url, scenario, seconds, connections)
  return autocannonRun(url, scenario, seconds, connections)
}

/** Which client a scenario is measured with, for the report. */
export function clientName (scenario, h2) {
  if (h2) return HAVE_H2LOAD ? 'h2load' : 'none'
  return HAVE_WRK && scenario.body === undefined ? 'wrk' : 'autocannon'
}

async function wrkRun (url, scenario, seconds, connections) {
  const headers = Object.entries(scenario.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const cpuBefore = childrenCpuMicros()
  const output = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', WRK_SCRIPT, ...headers, url])
  const clientCpu = childrenCpuMicros() - cpuBefore
  const result = JSON.parse(/WRK (\{.*\})/.exec(output)[1])
  const expected = scenario.expectStatus ?? 200
  // wrk counts statuses > 399 as errors; a scenario expecting 404 gets exactly those.
  const unexpected = expected >= 400 ? result.requests - result.badStatus : result.badStatus
  const elapsed = result.durationMicros / 1e6
  return {
    requests: result.requests,
    rps: result.requests / elapsed,
    p50: result.p50,
    p99: result.p99,
    mibPerSecond: result.bytes / elapsed / 1024 / 1024,
    errors: result.errors + unexpected,
    clientCpu
  }
}

async function h2loadRun (url, scenario, seconds, connections) {
  const headers = Object.entries(scenario.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const cpuBefore = childrenCpuMicros()
  // -m 10 streams per connection: HTTP/2's multiplexing, as a browser uses it.
  const output = await run('h2load', ['-c', String(Math.min(connections, 20)), '-m', '10', '-D', String(seconds), ...headers, url])
  const clientCpu = childrenCpuMicros() - cpuBefore
  // The run's time is in ms when it is under a second (a 1 s run can end at 999.90ms).
  const finished = /finished in ([\d.]+)m?s, ([\d.]+) req\/s, ([\d.]+)([KMG]?)B\/s/.exec(output)
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output)
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output)
  if (finished === null || counts === null || statuses === null) throw new Error(`unexpected h2load output: ${output}`)
  const latency = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output)
  const ms = (value, unit) => Number(value) * (unit === 'us' ? 1e-3 : unit === 's' ? 1e3 : 1)
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[finished[4]]
  const done = Number(counts[3])
  const expected = scenario.expectStatus ?? 200
  const good = expected === 200 ? Number(statuses[1]) : Number(statuses[3])
  return {
    requests: done,
    rps: Number(finished[2]),
    // h2load gives min, max and mean per request: the mean stands in for p50, the max for p99.
    p50: latency === null ? NaN : ms(latency[5], latency[6]),
    p99: latency === null ? NaN : ms(latency[3], latency[4]),
    mibPerSecond: Number(finished[3]) * unit / 1024 / 1024,
    // Responses still arriving when h2load stops count in the statuses but not in done.
    errors: Number(counts[5]) + Number(counts[6]) + Math.max(0, done - good),
    clientCpu
  }
}

async function autocannonRun (url, scenario, seconds, connections) {
  const cpuBefore = process.cpuUsage()
  const result = await autocannon({
    url,
    method: scenario.method ?? 'GET',
    headers: scenario.headers,
    body: scenario.body,
    connections,
    pipelining: scenario.pipelining ?? 1,
    duration: seconds
  })
  const cpu = process.cpuUsage(cpuBefore)
  const expected = scenario.expectStatus ?? 200
  const unexpected = expected === 200 ? result.non2xx : result.requests.total - (result.statusCodeStats[expected]?.count ?? 0)
  return {
    requests: result.requests.total,
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mibPerSecond: result.throughput.average / 1024 / 1024,
    errors: result.errors + result.timeouts + unexpected,
    clientCpu: cpu.user + cpu.system
  }
}
