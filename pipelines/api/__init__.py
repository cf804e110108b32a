"""The open-data API (``orostat serve``): PxWebApi 2.0 over the published releases, answers in JSON-stat 2.0.

Read-only and at the top of the data flow: it reads only ``6_published/release=YYYY-MM/tabeller/`` (what stage 6
publishes) and may import stage 6; nothing below imports it. Modules: ``spec`` (schemas/api.yaml, errors),
``releases`` (which releases and tables exist, cached per release), ``tables`` (dimensions and labels),
``selection`` (valueCodes, wildcards, code lists), ``jsonstat`` (metadata and data cubes), ``formats``
(csv, xlsx, parquet), ``ratelimit`` and ``app`` (the Starlette routes).
"""
