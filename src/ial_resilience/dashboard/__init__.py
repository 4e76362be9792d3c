"""``ialr dashboard``: a local, read-only web UI over the history store.

Three views, each an HTML page and a JSON endpoint: chaos monitoring (runs and their
timelines), resilience scoring (score, parts, trend) and insights (analyzer findings and the
KPI scorecard). :mod:`.model` turns plain data (records, analysis results as JSON) into view
models; :mod:`.render` draws them (inline CSS and SVG, no external assets); :mod:`.app` is the
Starlette app; :mod:`.server` binds and serves it.
"""
