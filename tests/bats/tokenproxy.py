"""A registry front that wants bearer tokens, for registry.bats (issue 13).

    tokenproxy.py PORT_FILE UPSTREAM USER PASSWORD

Listens on 127.0.0.1 (a free port, written to PORT_FILE) and answers as a
registry with token authentication does: /v2/... without a valid
`Authorization: Bearer` gets 401 with `WWW-Authenticate: Bearer
realm="http://127.0.0.1:PORT/token",service="unc-test",scope="..."`;
/token gives a token for `Basic USER:PASSWORD` (401 otherwise); with the
token, requests go on to the real registry at UPSTREAM (host:port) and its
answer comes back as it is. Debian's docker-registry checks signed JWTs
from a token server of its own; this front tests the client's side of the
same exchange without one.
"""

import base64
import http.client
import http.server
import sys

TOKEN = "unc-test-token"


def main(port_file, upstream, user, password):
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            port = self.server.server_address[1]
            if self.path.startswith("/token"):
                if self.headers.get("Authorization") != basic:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"token": "%s"}' % TOKEN.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.send_response(401)
                self.send_header("WWW-Authenticate",
                                 f'Bearer realm="http://127.0.0.1:{port}/token",'
                                 'service="unc-test",scope="repository:x:pull"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            conn = http.client.HTTPConnection(upstream, timeout=60)
            conn.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
            answer = conn.getresponse()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() in ("content-type", "content-length", "docker-content-digest",
                                    "location"):
                    self.send_header(name, value)
            self.end_headers()
            while True:
                chunk = answer.read(1 << 16)
                if not chunk:
                    break
                self.wfile.write(chunk)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:])
