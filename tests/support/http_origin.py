#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A plain HTTP origin on 127.0.0.1 for the tunnel tests: serves DIR (a file tree, or a bare
git repository after `git update-server-info`) and writes its port to PORT_FILE."""
import functools
import http.server
import os
import sys

d, port_file = sys.argv[1], sys.argv[2]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=d)
h.func.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
