"""The acoupi dashboard: a read-only local web app over a device's data.

Also the home of the read-only queries that ``acoupi detections`` and
``acoupi recordings`` share with the web app (:mod:`.queries`), and of the
exports (:mod:`.exports`). The web stack (Starlette, uvicorn, Pillow) is
imported only by the modules that serve pages, so the command line stays
fast.
"""
