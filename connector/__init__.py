"""MikoPBX CRM connector: Asterisk calls in, clean call records out, CRMs kept in step."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mikopbx-crm-connector")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
