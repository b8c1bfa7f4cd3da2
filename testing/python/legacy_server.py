"""A 2025-11-25 MCP server over stdio (Python's standard library only) that
meets a request before `initialize` the way some deployed servers do, so the
tests can see the pool fall back from `server/discover` to `initialize`:

    legacy_server.py MODE [METHODS_LOG]

MODE, for any request before `initialize`:
  unknown          answers -32601 (method not found), as most servers do
  empty            answers with an empty result `{}`
  silent           never answers
  exits            exits at once (status 0)
  legacy-versions  answers -32022 naming only versions up to 2025-11-25
  modern-only      a 2026-07-28-only server: answers `initialize` with -32022
                   naming 2026-07-28, then exits; nothing else is served

Every method received is appended, one per line, to METHODS_LOG if given.
"""

import json
import sys

MODE = sys.argv[1]
LOG = sys.argv[2] if len(sys.argv) > 2 else None
LEGACY = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def answer(request, result):
    send({"jsonrpc": "2.0", "id": request["id"], "result": result})


def fail(request, code, message, data=None):
    error = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    send({"jsonrpc": "2.0", "id": request["id"], "error": error})


initialized = False
for line in sys.stdin:
    try:
        request = json.loads(line)
    except ValueError:
        continue
    method = request.get("method")
    if LOG:
        with open(LOG, "a") as log:
            log.write(f"{method}\n")
    if "id" not in request:
        continue  # a notification
    if MODE == "modern-only":
        requested = request.get("params", {}).get("protocolVersion")
        fail(request, -32022, "Unsupported protocol version",
             {"supported": ["2026-07-28"], "requested": requested})
        sys.exit(0)
    if method == "initialize":
        initialized = True
        answer(request, {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": f"legacy-{MODE}", "version": "1.0.0"},
        })
    elif not initialized:
        if MODE == "unknown":
            fail(request, -32601, f"Method not found: {method}")
        elif MODE == "empty":
            answer(request, {})
        elif MODE == "silent":
            pass
        elif MODE == "exits":
            sys.exit(0)
        elif MODE == "legacy-versions":
            fail(request, -32022, "Unsupported protocol version",
                 {"supported": LEGACY, "requested": "2026-07-28"})
    elif method == "tools/list":
        answer(request, {"tools": [{
            "name": "echo",
            "description": "Echoes its text.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
        }]})
    elif method == "tools/call":
        text = request.get("params", {}).get("arguments", {}).get("text", "")
        answer(request, {"content": [{"type": "text", "text": f"echo: {text}"}]})
    elif method == "ping":
        answer(request, {})
    else:
        fail(request, -32601, f"Method not found: {method}")
