// Shows the environ an app receives, the way a legacy debugging page would.
import type { WsgiApp } from 'fastify-wsgi'
import { escapeHtml } from './html.js'

function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return `<${value.constructor.name}>`
  if (typeof value === 'function') return '<function>'
  return String(value)
}

export const environDump: WsgiApp = (environ, startResponse) => {
  const rows = Object.entries(environ).sort(([a], [b]) => a < b ? -1 : 1).map(([key, value]) =>
    `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(show(value))}</td></tr>`)
  startResponse('200 OK', [['Content-Type', 'text/html; charset=utf-8']])
  return [`<!doctype html><title>environ</title><table>${rows.join('')}</table>\n`]
}
