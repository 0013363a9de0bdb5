#!/usr/bin/env node
// `fastify-wsgi [options] module[:export]`: gunicorn's `gunicorn module:app` for WSGI-style apps.
// One process serves (makeServer), or a node:cluster primary supervises --workers N of them.
import cluster from 'node:cluster'
import { checkFastifyVersion } from '../server/fastify-version.js'
import { parseCli, USAGE } from './args.js'
import { serveHere, serveWorker } from './serve.js'
import { Supervisor } from './supervisor.js'

function exitWithUsageError (message: string): never {
  process.stderr.write(`fastify-wsgi: ${message}\n`)
  process.exit(2)
}

async function main (): Promise<void> {
  try {
    const options = parseCli(process.argv.slice(2))
    if (options === null) {
      process.stdout.write(`${USAGE}\n`)
      return
    }
    checkFastifyVersion()
    if (options.workers === 0) await serveHere(options)
    else if (cluster.isPrimary) new Supervisor(options).start()
    else await serveWorker(options)
  } catch (err) {
    exitWithUsageError((err as Error).message)
  }
}

await main()
