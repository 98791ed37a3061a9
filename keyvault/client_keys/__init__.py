"""Client keys: what callers present to the gateway. Created by an admin and shown
once, stored only as a keyed hash (`hash_key`), scoped, limited, budgeted, revocable
(`store`); pushed to every router as snapshots (`snapshot`) and served by
ClientKeyService (`servicer`, `convert`), with live usage from the limiter (`usage`)."""
