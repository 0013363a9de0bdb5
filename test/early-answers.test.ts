// Early answers stay readable (issue #16): a client still uploading when the mount answers (413
// by declared length or while reading, an app that answers without reading, an app that fails
// first) reads the whole answer, whatever the framing and whether it asked to close the connection.
// The server runs in a process of its own, the client writes as fast as it can on a raw socket.
import { test, type Test } from 'tap'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'

const FIXTURE = fileURLToPath(new URL('./fixtures/upload-server.ts', import.meta.url))
/** Each mount refuses bodies over 1 MiB; the client sends this much. */
const UPLOAD = 8 * 1024 * 1024
const BLOCK = Buffer.alloc(64 * 1024, 'u')
const TRIES = 20

interface Server { port: number, stop: () => Promise<void> }

async function startServer (): Promise<Server> {
  const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let output = ''
  for await (const chunk of child.stdout) {
    output += String(chunk)
    const ready = /READY (\d+)/.exec(output)
    if (ready !== null) return { port: Number(ready[1]), stop: async () => { child.kill('SIGTERM'); await exited } }
  }
  throw new Error('the upload server did not start')
}

interface Outcome {
  /** The status line, if one arrived. */
  status: string
  /** The status line, the headers and as many body bytes as Content-Length says arrived. */
  whole: boolean
  error: string
}

/** Uploads UPLOAD bytes as fast as the socket takes them, reading whatever the server answers meanwhile. */
function upload (port: number, path: string, chunked: boolean, close: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let received = Buffer.alloc(0)
    let error = ''
    const parsed = (): Outcome => {
      const text = received.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const status = text.slice(0, text.indexOf('\r\n'))
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))
      const whole = end !== -1 && length !== null && received.length - end - 4 >= Number(length[1])
      return { status, whole, error }
    }
    const timer = setTimeout(() => { error ||= 'timeout'; socket.destroy() }, 10_000)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      // A server that keeps the connection answers and waits for more: the try is over once the upload is out.
      if (parsed().whole && socket.writableLength === 0) socket.destroy()
    })
    socket.on('drain', () => { if (parsed().whole) socket.destroy() })
    socket.on('error', (err: NodeJS.ErrnoException) => { error ||= err.code ?? err.message })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(parsed())
    })
    const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${UPLOAD}`
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${framing}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`)
    const size = `${BLOCK.length.toString(16)}\r\n`
    for (let sent = 0; sent < UPLOAD && !socket.destroyed; sent += BLOCK.length) {
      if (chunked) socket.write(size)
      socket.write(BLOCK)
      if (chunked) socket.write('\r\n')
    }
    if (chunked && !socket.destroyed) socket.write('0\r\n\r\n')
  })
}

/** The server's heap and buffers after a full collection; it answers within 2 s or fails. */
async function memory (port: number): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}/memory`, { headersTimeout: 2000, bodyTimeout: 2000 })
  const usage = await response.body.json() as NodeJS.MemoryUsage
  return usage.heapUsed + usage.arrayBuffers
}

const FRAMINGS = [false, true]
const CONNECTIONS = [false, true]
const describe = (chunked: boolean, close: boolean): string => `${chunked ? 'chunked' : 'Content-Length'} ${close ? 'Connection: close' : 'keep-alive'}`

/** `tries` uploads in a row; asserts that each read the whole answer with `status`, and that the server answers another request after them. */
async function tryUploads (t: Test, port: number, name: string, status: string, tries: number, uploadOnce: () => Promise<Outcome>): Promise<void> {
  const outcomes: Outcome[] = []
  for (let i = 0; i < tries; i++) outcomes.push(await uploadOnce())
  const whole = outcomes.filter((outcome) => outcome.whole && outcome.status === status).length
  const errors = [...new Set(outcomes.map((outcome) => outcome.error).filter(Boolean))].join(', ')
  t.equal(whole, tries, `${name}: ${whole}/${tries} read the whole ${status.slice(9)}${errors === '' ? '' : ` (the client then saw ${errors})`}`)
  const startedAt = Date.now()
  await memory(port)
  const took = Date.now() - startedAt
  t.ok(took < 1000, `the server answered the next request in ${took} ms`)
}

test('an upload over bodyLimit reads its whole 413, every try, in every mode and framing; memory stays flat', { timeout: 120_000 }, async (t) => {
  const server = await startServer()
  t.teardown(server.stop)
  const before = await memory(server.port)
  for (const mode of ['buffer', 'stream']) {
    for (const chunked of FRAMINGS) {
      for (const close of CONNECTIONS) {
        await tryUploads(t, server.port, `${mode} ${describe(chunked, close)}`, 'HTTP/1.1 413 Payload Too Large', TRIES,
          () => upload(server.port, `/${mode}/`, chunked, close))
      }
    }
  }
  const after = await memory(server.port)
  t.ok(after - before < 32 * 1024 * 1024, `the server's memory grew by ${((after - before) / 1024 / 1024).toFixed(1)} MiB over ${8 * TRIES} uploads of 8 MiB`)
})

test('an app that answers without reading, or fails before it read, is read whole too', { timeout: 120_000 }, async (t) => {
  const server = await startServer()
  t.teardown(server.stop)
  for (const chunked of FRAMINGS) {
    for (const close of CONNECTIONS) {
      await tryUploads(t, server.port, `unread, ${describe(chunked, close)}`, 'HTTP/1.1 403 Forbidden', 5,
        () => upload(server.port, '/early/unread', chunked, close))
      await tryUploads(t, server.port, `throws, ${describe(chunked, close)}`, 'HTTP/1.1 500 Internal Server Error', 5,
        () => upload(server.port, '/early/throws', chunked, close))
    }
  }
})
