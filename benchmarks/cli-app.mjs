// The benchmark app as a module for the fastify-wsgi CLI (the cli-* contenders of servers.mjs):
// the scenarios' wsgiApp, plus /__cpu, which reports the CPU time of the whole cluster.
import { readFileSync, rmSync } from 'node:fs'
import { FILE, wsgiApp } from './apps.mjs'

// Each worker wrote its own copy of the 1 MiB file (apps.mjs): it goes when the worker does.
process.once('exit', () => rmSync(FILE, { force: true }))

/** utime + stime of a process, in µs (clock ticks of 10 ms: CPU time accumulates over a run). */
function processMicros (pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/**
 * A worker answers /__cpu, but the work is spread over every worker and the primary that hands
 * them connections: sum them all (Linux /proc; elsewhere, this worker's own time only).
 */
function clusterCpu () {
  try {
    const primary = process.ppid
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/)
    return { user: [primary, ...workers].reduce((sum, pid) => sum + processMicros(pid), 0), system: 0 }
  } catch {
    return process.cpuUsage()
  }
}

export default function app (environ, startResponse) {
  if (environ.PATH_INFO === '/__cpu') {
    startResponse('200 OK', [['Content-Type', 'application/json']])
    return [JSON.stringify(clusterCpu())]
  }
  return wsgiApp(environ, startResponse)
}
