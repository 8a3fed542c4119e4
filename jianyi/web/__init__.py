"""The web pages: server-rendered (FastAPI + Jinja2, autoescaped), in Chinese, times in Asia/Shanghai.

``install`` adds them to the API's app: the public pages (submission, lookup, tracking), the
officials' login and the department workbench, the front-end files under /static (from npm's
node_modules, no CDN) and the OpenAPI pages /docs and /redoc on those local files.
"""
