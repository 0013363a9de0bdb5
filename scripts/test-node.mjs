// `npm run test:node -- 26`: the whole `npm test` under a pinned Node line (several may be named;
// none names every pinned one). The binary comes from the npm registry on first use (node-versions.mjs).
import { spawnSync } from 'node:child_process'
import { PINNED_VERSIONS, envWithNode, pinnedVersion } from './node-versions.mjs'

const wanted = process.argv.length > 2 ? process.argv.slice(2) : PINNED_VERSIONS
const failed = []
for (const request of wanted) {
  const version = pinnedVersion(request)
  const env = envWithNode(version)
  process.stdout.write(`\n=== npm test under Node ${version} ===\n`)
  const started = Date.now()
  const { status } = spawnSync('npm', ['test'], { env, stdio: 'inherit' })
  const seconds = Math.round((Date.now() - started) / 1000)
  process.stdout.write(`=== Node ${version}: ${status === 0 ? 'passed' : `failed (exit ${status})`} in ${seconds} s ===\n`)
  if (status !== 0) failed.push(version)
}
if (failed.length > 0) {
  process.stderr.write(`npm test failed under Node ${failed.join(', ')}\n`)
  process.exit(1)
}
