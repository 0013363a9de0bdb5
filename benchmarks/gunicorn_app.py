# The benchmark scenarios as a Python WSGI app, for the gunicorn contender of servers.mjs: the
# bar the fastify-wsgi CLI is measured against (gunicorn's sync workers, as `gunicorn -w 2` runs).
import atexit
import os
import re
from urllib.parse import parse_qs

HELLO = b'Hello, World!'
BLOCK_64K = b'x' * (64 * 1024)
SMALL = b'a small chunk of text\n'
FILE = '/tmp/fastify-wsgi-bench-gunicorn-%d.bin' % os.getpid()
with open(FILE, 'wb') as f:
    f.write(b'f' * (1024 * 1024))
# Each worker writes its own copy: it goes when the worker does.
atexit.register(os.remove, FILE)


def cluster_cpu_micros():
    """utime and stime of the gunicorn master and its workers, in µs (Linux /proc)."""
    master = os.getppid()
    user = system = 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as stat:
                fields = stat.read().rsplit(') ', 1)[1].split(' ')
        except OSError:
            continue
        if int(pid) == master or int(fields[1]) == master:
            user += int(fields[11]) * 10000
            system += int(fields[12]) * 10000
    return user, system


def app(environ, start_response):
    path = environ['PATH_INFO']
    if path.startswith('/app/'):
        path = path[4:]
    if path == '/hello':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [HELLO]
    if path == '/legacy':
        name = parse_qs(environ.get('QUERY_STRING', '')).get('name', ['nobody'])[0]
        match = re.search(r'(?:^|;\s*)session=([^;]*)', environ.get('HTTP_COOKIE', ''))
        text = '%s %s for %s, session %s, agent %s\n' % (
            environ['REQUEST_METHOD'], path, name, match.group(1) if match else 'none', environ.get('HTTP_USER_AGENT', '-'))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [text.encode()]
    if path == '/64k':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return [BLOCK_64K]
    if path == '/1m':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return (BLOCK_64K for _ in range(16))
    if path == '/file':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return environ['wsgi.file_wrapper'](open(FILE, 'rb'))
    if path == '/async':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return (SMALL for _ in range(100))
    if path == '/echo':
        body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return [body]
    if path == '/__cpu':
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [('{"user":%d,"system":%d}' % cluster_cpu_micros()).encode()]
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found']
