"""Running the whole mesh on one machine (`make run`); never imported by a service."""
