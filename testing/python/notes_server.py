"""A notes service as an MCP server on the official Python SDK (`mcp`
2.3.0), over stdio: the integrations-export tests export to its
`create_note` tool through a declared mapping.

- `create_note(body, title, folder, request_id)` stores a note and answers
  `{"id", "url"}`; a `request_id` seen before answers the same note
  without storing it again (an idempotent tool).
- `list_folders(cursor)` answers `{"folders": [{"key", "label"}], "next"}`
  two folders a page.
- `notes()` answers every note stored, for the test to read back.
"""

import json

from mcp.server.mcpserver import MCPServer

server = MCPServer("py-notes", instructions="A fixture of the integrations tests.")

FOLDERS = [("inbox", "Inbox"), ("reports", "Reports"), ("archive", "Archive")]
NOTES: list[dict] = []
BY_REQUEST: dict[str, dict] = {}


@server.tool()
def create_note(body: str, title: str, folder: str, request_id: str = "") -> str:
    """Stores a note in `folder`; answers its id and URL as JSON."""
    if folder not in dict(FOLDERS):
        raise ValueError(f"no folder {folder!r}")
    if request_id and request_id in BY_REQUEST:
        note = BY_REQUEST[request_id]
    else:
        note = {
            "id": f"note-{len(NOTES) + 1}",
            "url": f"https://notes.example/{folder}/note-{len(NOTES) + 1}",
            "title": title,
            "folder": folder,
            "body": body,
            "request_id": request_id,
        }
        NOTES.append(note)
        if request_id:
            BY_REQUEST[request_id] = note
    return json.dumps({"id": note["id"], "url": note["url"]})


@server.tool()
def list_folders(cursor: str = "") -> str:
    """Lists folders, two a page."""
    start = int(cursor or 0)
    page = FOLDERS[start : start + 2]
    following = start + 2 if start + 2 < len(FOLDERS) else None
    return json.dumps(
        {
            "folders": [{"key": key, "label": label} for key, label in page],
            "next": str(following) if following is not None else None,
        }
    )


@server.tool()
def notes() -> str:
    """Every note stored, as JSON."""
    return json.dumps(NOTES)


if __name__ == "__main__":
    server.run("stdio")
