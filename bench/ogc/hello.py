"""The ceiling of the OGC benchmark: a bare Starlette app answering every path with a short text."""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("hello")


app = Starlette(routes=[Route("/{path:path}", hello)])
