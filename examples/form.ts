// A form that posts to itself: GET (and HEAD) shows it, POST reads wsgi.input and echoes the fields.
import type { WsgiApp } from 'fastify-wsgi'
import { escapeHtml } from './html.js'

const FORM = `<!doctype html><title>form</title>
<form method="post"><label>Name <input name="name"></label>
<label>Colour <input name="colour"></label><button>Send</button></form>\n`

export const form: WsgiApp = (environ, startResponse) => {
  if (environ.REQUEST_METHOD === 'GET' || environ.REQUEST_METHOD === 'HEAD') {
    startResponse('200 OK', [['Content-Type', 'text/html; charset=utf-8']])
    return [FORM]
  }
  if (environ.REQUEST_METHOD !== 'POST') {
    startResponse('405 Method Not Allowed', [['Allow', 'GET, HEAD, POST'], ['Content-Type', 'text/plain']])
    return ['Use GET, HEAD or POST\n']
  }
  const length = Number(environ.CONTENT_LENGTH ?? -1)
  const body = environ['wsgi.input'].read(length >= 0 ? length : undefined).toString('utf8')
  const fields = [...new URLSearchParams(body)]
    .map(([name, value]) => `<li>${escapeHtml(name)} = ${escapeHtml(value)}</li>`)
  startResponse('200 OK', [['Content-Type', 'text/html; charset=utf-8']])
  return [`<!doctype html><title>sent</title><ul>${fields.join('')}</ul>\n`]
}
