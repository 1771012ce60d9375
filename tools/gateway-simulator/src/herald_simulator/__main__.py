import sys

from herald_simulator.main import main

sys.exit(main())
