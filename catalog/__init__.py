"""The governed resource catalogue (资源目录): departments, resources, versions, lineage, subscriptions."""

from catalog.db import Base, utcnow
from catalog.dcat import catalogue_dcat, resource_dcat
from catalog.departments import Department, authenticate, get_department, issue_api_key, seed_departments
from catalog.errors import CatalogAccessDenied, CatalogError
from catalog.lineage_graph import DeliveryReader, lineage
from catalog.resources import Resource, ResourceItem, get_resource, register_contracts, release_date
from catalog.search import search_resources
from catalog.subscriptions import (
    HUB_ADMIN,
    Subscription,
    SubscriptionEvent,
    apply,
    decide,
    granted_subscriptions,
    list_subscriptions,
    overdue_applications,
    revoke,
)
from catalog.versions import DatasetVersion, latest_version, list_versions, record_version
from catalog.workdays import HOLIDAYS, MAKEUP_WORKDAYS, add_working_days

__all__ = [
    "HOLIDAYS",
    "HUB_ADMIN",
    "MAKEUP_WORKDAYS",
    "Base",
    "CatalogAccessDenied",
    "CatalogError",
    "DatasetVersion",
    "DeliveryReader",
    "Department",
    "Resource",
    "ResourceItem",
    "Subscription",
    "SubscriptionEvent",
    "add_working_days",
    "apply",
    "authenticate",
    "catalogue_dcat",
    "decide",
    "get_department",
    "get_resource",
    "granted_subscriptions",
    "issue_api_key",
    "latest_version",
    "lineage",
    "list_subscriptions",
    "list_versions",
    "overdue_applications",
    "record_version",
    "register_contracts",
    "release_date",
    "resource_dcat",
    "revoke",
    "search_resources",
    "seed_departments",
    "utcnow",
]
