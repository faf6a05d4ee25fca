"""Developer tooling (local S3 server, `make run`). Not part of the service image."""
