"""`python -m bench.web`: see run.py."""
import sys

from bench.web.run import main

sys.exit(main())
