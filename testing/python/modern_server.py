"""An MCP server on the official Python SDK (`mcp` 2.3.0), speaking
2026-07-28 to a client that probes with `server/discover` (2025-11-25 to one
that sends `initialize`). The integrations-mcp tests start it over stdio
(`modern_server.py stdio`) and streamable HTTP (`modern_server.py http PORT`), and the HTTP+SSE transport of
2024-11-05 (`modern_server.py sse PORT`, stream at `/sse`).

Its `confirm` and `summarize` tools ask the client for input mid-call: on
2026-07-28 as an `InputRequiredResult` (MRTR), answered by a retry that
carries `inputResponses` and echoes `requestState`.
"""

import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)

server = MCPServer("py-modern", instructions="A fixture of the integrations tests.")


@server.tool()
def echo(text: str) -> str:
    """Echoes `text` back."""
    return f"echo: {text}"


@server.tool()
async def protocol(ctx: Context) -> str:
    """The protocol revision this request came in on."""
    return ctx.protocol_version or "unknown"


@server.tool()
async def confirm(question: str, ctx: Context) -> str | InputRequiredResult:
    """Asks the user `question` (elicitation) and reports the answer."""
    answers = ctx.input_responses
    if not answers:
        ask = ElicitRequest(
            params=ElicitRequestFormParams(
                message=question,
                requested_schema={
                    "type": "object",
                    "properties": {"yes": {"type": "boolean"}},
                    "required": ["yes"],
                },
            )
        )
        return InputRequiredResult(input_requests={"answer": ask}, request_state="asked-once")
    answer = answers.get("answer") or {}
    if hasattr(answer, "model_dump"):
        answer = answer.model_dump(by_alias=True, exclude_none=True)
    content = answer.get("content") or {}
    return f"action={answer.get('action')} yes={content.get('yes')} state={ctx.request_state}"


@server.tool()
async def summarize(text: str, ctx: Context) -> str | InputRequiredResult:
    """Asks the client's model (sampling) to summarize `text`."""
    answers = ctx.input_responses
    if not answers:
        ask = CreateMessageRequest(
            params=CreateMessageRequestParams(
                messages=[SamplingMessage(role="user", content=TextContent(type="text", text=text))],
                max_tokens=50,
            )
        )
        return InputRequiredResult(input_requests={"summary": ask}, request_state="sampling")
    answer = answers.get("summary") or {}
    if hasattr(answer, "model_dump"):
        answer = answer.model_dump(by_alias=True, exclude_none=True)
    content = answer.get("content") or {}
    if isinstance(content, list):
        content = content[0] if content else {}
    return f"summary={content.get('text')} model={answer.get('model')}"


@server.resource("note://greeting")
def greeting() -> str:
    """A note whose changes `touch` announces."""
    return "hello"


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Announces that the resource at `uri` changed (to listeners)."""
    await ctx.notify_resource_updated(uri)
    return f"touched {uri}"


@server.tool()
async def forever(ctx: Context) -> InputRequiredResult:
    """Asks again on every round: a client must stop at its cap."""
    rounds = int(ctx.request_state or "0") + 1
    return InputRequiredResult(request_state=str(rounds))


if __name__ == "__main__":
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if transport == "stdio":
        server.run("stdio")
    elif transport == "sse":
        # The deprecated HTTP+SSE transport of 2024-11-05: GET /sse, then
        # POST where its `endpoint` event says.
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]), json_response=True)
