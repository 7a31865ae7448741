"""joinedup: connect the data of the public services around a child, safely and lawfully.

The package is laid out as the rooms of DESIGN.md: ``simulate`` invents a district, ``sources``
declares each agency extract, ``ingest`` checks and stages extracts, ``identity`` is the vault,
``link`` builds the person index and ``store`` holds the de-identified linked data.
"""

__version__ = "0.1.0"
