"""`python -m tools.localrun`: the whole mesh on this machine (what `make run` calls)."""

from tools.localrun.run import main

raise SystemExit(main())
