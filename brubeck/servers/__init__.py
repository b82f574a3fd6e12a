"""Brubeck's two hardened WSGI servers (gevent.pywsgi, eventlet.wsgi) on one shared base.

`http` is the strict head and chunk parser both read requests through; `base`
is what both add to their library (TCP_NODELAY, head timer, RAW_URI, one
refusal, connection cap, listen socket); `gevent` and `eventlet` map their
library's hooks onto it. A concurrency backend's `serve_wsgi` loads its server
module here by import string (`brubeck.servers.<backend>`), so the backends stay
below the transports and nothing imports a server before it serves. To add a
server for a new backend: a module with `serve(app, host, port, sock, limits)`
built on `base.HardenedConnection`, named by that backend's `serve_wsgi`.
"""
