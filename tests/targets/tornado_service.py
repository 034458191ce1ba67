"""A small tornado service for leaktop's tests: PUT /upload answers the body's
length.  With "buggy", the handler's helper is wrapped in functools.lru_cache:
the cache keys on `self`, so it keeps every handler, and with it every request
body, alive (a classic leak).  Prints "port N" once listening on loopback."""
import functools
import sys

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

BUGGY = len(sys.argv) > 1 and sys.argv[1] == "buggy"


class Upload(tornado.web.RequestHandler):
    def put(self):
        self.write(str(self.body_length()))

    def body_length(self):
        return len(self.request.body)

    if BUGGY:
        body_length = functools.lru_cache(maxsize=None)(body_length)


def main():
    app = tornado.web.Application([(r"/upload", Upload)])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app, max_body_size=64 << 20)
    server.add_sockets(sockets)
    print(f"port {sockets[0].getsockname()[1]}", flush=True)
    tornado.ioloop.IOLoop.current().start()


main()
