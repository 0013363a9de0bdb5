import cluster, { type Worker } from 'node:cluster'
import type { CliOptions } from './args.js'
import { urlOf, type WorkerMessage } from './serve.js'

/**
 * The cluster primary: forks the workers, replaces one that dies, reloads on
 * SIGHUP (gunicorn's graceful reload: start a new worker, wait until it
 * listens, then stop an old one gracefully), and on SIGTERM/SIGINT stops them
 * all gracefully and exits 0. A worker that cannot start stops everything
 * with its message and exit code 2.
 */
export class Supervisor {
  private readonly options: CliOptions
  private readonly alive = new Set<Worker>()
  /** Old workers a reload stopped on purpose: their exit is not a death to make up for. */
  private readonly retiring = new Set<Worker>()
  private stopping = false
  private exitCode = 0
  /** First workers that listen; the supervisor announces itself when all of them do. */
  private listening = 0
  /** The reload in progress: a second SIGHUP waits for it, then replaces the workers it started. */
  private reloading = Promise.resolve()

  constructor (options: CliOptions) {
    this.options = options
  }

  start (): void {
    cluster.on('message', this.onMessage)
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal))
    process.on('SIGTERM', () => this.stopAll())
    process.on('SIGINT', () => this.stopAll())
    process.on('SIGHUP', () => { this.reloading = this.reloading.then(() => this.reload()) })
    for (let i = 0; i < this.options.workers; i++) this.fork()
  }

  private fork (): Worker {
    const worker = cluster.fork()
    this.alive.add(worker)
    // A worker that stopped serving exits on the primary's answer (see serveWorker).
    worker.on('message', (message: WorkerMessage) => { if (message.type === 'stopped') worker.send('exit') })
    return worker
  }

  /** Resolves once the worker listens, or has exited (the exit handler replaces it). */
  private started (worker: Worker): Promise<void> {
    return new Promise((resolve) => {
      worker.on('message', (message: WorkerMessage) => { if (message.type === 'listening') resolve() })
      worker.once('exit', () => resolve())
    })
  }

  private stopAll (): void {
    this.stopping = true
    for (const worker of this.alive) worker.process.kill('SIGTERM')
  }

  private readonly onMessage = (_worker: Worker, message: WorkerMessage): void => {
    if (message.type === 'failed') {
      // Reported once, however many workers fail the same way.
      cluster.off('message', this.onMessage)
      process.stderr.write(`fastify-wsgi: ${message.message}\n`)
      this.exitCode = 2
      this.stopAll()
      return
    }
    if (message.type !== 'listening') return
    // Announced once every first worker listens (the ones that replace them later listen silently).
    if (++this.listening !== this.options.workers) return
    process.stdout.write(`fastify-wsgi: listening on ${urlOf(this.options.host, message.port)} (primary ${process.pid}, ${this.options.workers} workers)\n`)
  }

  private onExit (worker: Worker, code: number, signal: string | null): void {
    this.alive.delete(worker)
    if (this.retiring.delete(worker)) return
    if (this.stopping) {
      if (this.alive.size === 0) process.exit(this.exitCode)
      return
    }
    process.stderr.write(`fastify-wsgi: worker ${worker.process.pid} died (${signal ?? `exit code ${code}`}); starting a new one\n`)
    this.fork()
  }

  /** Replaces the workers one by one: a new one listens before an old one is stopped. */
  private async reload (): Promise<void> {
    for (const old of [...this.alive]) {
      if (this.retiring.has(old)) continue
      await this.started(this.fork())
      this.retiring.add(old)
      old.process.kill('SIGTERM')
    }
    const serving = [...this.alive].filter((worker) => !this.retiring.has(worker)).map((worker) => worker.process.pid)
    process.stdout.write(`fastify-wsgi: reloaded (workers ${serving.join(', ')})\n`)
  }
}
