-- docker-compose.yaml: the metrics service keeps its tables in a schema of its own.
CREATE SCHEMA IF NOT EXISTS metrics AUTHORIZATION agentopia;
