"""The governed resource catalogue (资源目录): resources, versions, lineage, subscriptions."""

from catalog.db import Base, utcnow
from catalog.versions import DatasetVersion, latest_version, record_version

__all__ = ["Base", "DatasetVersion", "latest_version", "record_version", "utcnow"]
