"""A WSGI app (for gunicorn) that keeps LEAK_BYTES of every request for good,
as a cache that never evicts would, and answers with its worker's PID so the
client can count each worker's requests."""
import os

LEAK_BYTES = 102400
kept = []


def app(environ, start_response):
    blob = b"\x01" * LEAK_BYTES  # LEAK:blob
    kept.append(blob)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
