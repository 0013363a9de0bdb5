// The form app as a CGI script: a web server that speaks CGI (Apache's mod_cgi, lighttpd,
// thttpd...) runs this file per request with the request in its environment and body on stdin.
// Try it by hand, as a web server would:
//   REQUEST_METHOD=POST CONTENT_LENGTH=9 SCRIPT_NAME=/cgi-bin/form PATH_INFO= QUERY_STRING= \
//   SERVER_NAME=localhost SERVER_PORT=80 SERVER_PROTOCOL=HTTP/1.1 node dist/examples/cgi.js <<< 'name=Ada'
import { CGIHandler } from 'fastify-wsgi'
import { form } from './form.js'

await new CGIHandler().run(form)
