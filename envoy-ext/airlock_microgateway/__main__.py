import sys

from airlock_microgateway.cli import main

sys.exit(main())
