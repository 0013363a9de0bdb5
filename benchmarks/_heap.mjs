import inspector from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
const session = new inspector.Session()
session.connect()
await session.post('HeapProfiler.enable')
process.on('SIGUSR2', async () => {
  await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
})
process.on('SIGUSR1', async () => {
  const { profile } = await session.post('HeapProfiler.stopSampling')
  writeFileSync(process.env.HEAP_OUT, JSON.stringify(profile))
  console.log('WROTE')
})
await import('./servers.mjs')
