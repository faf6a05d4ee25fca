"""Container image tests: the production Dockerfile built with podman (or docker) and run read-only."""
