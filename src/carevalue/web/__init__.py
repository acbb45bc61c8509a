"""The web dashboard: server-rendered pages over the Workspace and the queries layer, each page
with a ``.json`` twin returning the rows it shows. ``router`` is mounted by the API; the standalone
app is :func:`carevalue.web.app.create_dashboard_app`."""
