// The benchmark app as a module for the fastify-wsgi CLI (the cli-* contenders of servers.mjs):
// the scenarios' wsgiApp, plus /__cpu, which reports the CPU time of the whole cluster.
import { wsgiApp } from './apps.mjs'
import { clusterCpu } from './cluster-cpu.mjs'

export default function app (environ, startResponse) {
  if (environ.PATH_INFO === '/__cpu') {
    startResponse('200 OK', [['Content-Type', 'application/json']])
    return [JSON.stringify(clusterCpu())]
  }
  return wsgiApp(environ, startResponse)
}
