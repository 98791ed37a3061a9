"""Storage of usage events: schema, engine, migrations, batch ingest and reports."""
