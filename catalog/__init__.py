"""The governed resource catalogue (资源目录): departments, resources, versions, lineage, subscriptions."""

from catalog.admin_keys import AdminKey, authenticate_admin, issue_admin_key, list_admin_keys, revoke_admin_key
from catalog.correction_models import CorrectionEvent, CorrectionFlag, Reporter
from catalog.corrections import close_flag, decide_flag, get_flag, list_flags, mark_overdue, may_see, raise_flag
from catalog.db import Base, utcnow
from catalog.dcat import catalogue_dcat, resource_dcat
from catalog.delivery_targets import (
    DeliveryTarget,
    check_target,
    get_target,
    list_targets,
    register_target,
    remove_target,
    resolve_connection,
    resolve_target_url,
)
from catalog.departments import Department, authenticate, get_department, issue_api_key, seed_departments
from catalog.disputes import SharingDispute, decide_dispute, escalate, get_dispute, list_disputes, overdue_disputes
from catalog.errors import CatalogAccessDenied, CatalogError
from catalog.lineage_graph import DeliveryReader, lineage
from catalog.resources import Resource, ResourceItem, get_resource, register_contracts, release_date
from catalog.search import search_resources
from catalog.sharing_rules import SharingLimits, configure_limits, current_limits
from catalog.subscriptions import (
    HUB_ADMIN,
    Subscription,
    SubscriptionEvent,
    apply,
    decide,
    granted_subscriptions,
    list_subscriptions,
    overdue_applications,
    pii_items,
    revoke,
)
from catalog.versions import DatasetVersion, latest_version, list_versions, record_version
from catalog.workdays import add_working_days, working_days_left

__all__ = [
    "HUB_ADMIN",
    "AdminKey",
    "Base",
    "CatalogAccessDenied",
    "CatalogError",
    "CorrectionEvent",
    "CorrectionFlag",
    "DatasetVersion",
    "DeliveryReader",
    "DeliveryTarget",
    "Department",
    "Reporter",
    "Resource",
    "ResourceItem",
    "SharingDispute",
    "SharingLimits",
    "Subscription",
    "SubscriptionEvent",
    "add_working_days",
    "apply",
    "authenticate",
    "authenticate_admin",
    "catalogue_dcat",
    "check_target",
    "close_flag",
    "configure_limits",
    "current_limits",
    "decide",
    "decide_dispute",
    "decide_flag",
    "escalate",
    "get_department",
    "get_dispute",
    "get_flag",
    "get_resource",
    "get_target",
    "granted_subscriptions",
    "issue_admin_key",
    "issue_api_key",
    "latest_version",
    "lineage",
    "list_admin_keys",
    "list_disputes",
    "list_flags",
    "list_subscriptions",
    "list_targets",
    "list_versions",
    "mark_overdue",
    "may_see",
    "overdue_applications",
    "overdue_disputes",
    "pii_items",
    "raise_flag",
    "record_version",
    "register_contracts",
    "register_target",
    "release_date",
    "remove_target",
    "resolve_connection",
    "resolve_target_url",
    "resource_dcat",
    "revoke",
    "revoke_admin_key",
    "search_resources",
    "seed_departments",
    "utcnow",
    "working_days_left",
]
