"""The entry function `python -m aiohttp.web` requires (module:function):
an application serving the directory given as its argument, with listings.
Everything else that runs is aiohttp's own."""
from aiohttp import web


def init(argv):
    app = web.Application()
    app.router.add_static("/", argv[0], show_index=True)
    return app
