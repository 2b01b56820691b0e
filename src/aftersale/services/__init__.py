"""Use-cases that wire the layers together: ingest, project set-up and status, the demo."""
