"""Stand-in for the get-pip script that ansible-test downloads (unreachable here).

ensurepip installs a bundled pip; it sets PIP_CONFIG_FILE=/dev/null while doing so, which would
hide the system pip configuration (index and CA settings), so it is dropped before pip runs.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
os.environ.pop('PIP_CONFIG_FILE', None)
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
