// The CPU time of a whole node:cluster, for the /__cpu route of the cluster contenders (the CLI's
// and native Fastify's): the work is spread over every worker and the primary that hands them
// connections, so a worker sums them all.
import { readFileSync } from 'node:fs'

/** utime and stime of a process, in µs (Linux /proc; clock ticks of 10 ms, which add up over a run). */
function processMicros (pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 }
}

/** User and system µs of this worker's primary and all its children; elsewhere than Linux, this worker's own. */
export function clusterCpu () {
  try {
    const primary = process.ppid
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/)
    const total = { user: 0, system: 0 }
    for (const pid of [primary, ...workers]) {
      const { user, system } = processMicros(pid)
      total.user += user
      total.system += system
    }
    return total
  } catch {
    return process.cpuUsage()
  }
}
