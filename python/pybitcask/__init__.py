"""pybitcask: the seed project's package name for the same store.

`from pybitcask import Bitcask` is `from bitcask import Bitcask`.
"""

from bitcask import *  # noqa: F401,F403
from bitcask import Bitcask, __all__, __version__  # noqa: F401
