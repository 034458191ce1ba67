"""PUTs 1 MiB bodies to the tornado test service as fast as it answers, on one
keep-alive connection, for SECONDS; prints requests per second."""
import http.client
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
body = b"x" * (1 << 20)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
start, done = time.monotonic(), 0
while time.monotonic() - start < seconds:
    conn.request("PUT", "/upload", body)
    conn.getresponse().read()
    done += 1
print(f"{done / (time.monotonic() - start):.1f}")
