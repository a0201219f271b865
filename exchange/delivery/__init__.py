"""Deliveries to subscribing departments: the change feed since each one's last version, masked and restricted."""

from exchange.delivery.deliver import (
    DeliveryResult,
    SubscriptionLike,
    deliver_resource,
    deliveries_for_lineage,
    delivery_view,
    file_key,
    last_done_version,
    list_deliveries,
)
from exchange.delivery.errors import DeliveryError
from exchange.delivery.feed import NetFeed, net_changes, order_by_key, table_checksum
from exchange.delivery.masking import delivered_columns, mask_column, pseudonymise, restrict_and_mask
from exchange.delivery.models import Delivery, DeliveryMode, DeliveryStatus
from exchange.delivery.pull import ChangesPage, decode_page_token, encode_page_token, pull_changes
from exchange.delivery.targets import BOOKKEEPING_TABLE, target_recorded

__all__ = [
    "BOOKKEEPING_TABLE",
    "ChangesPage",
    "Delivery",
    "DeliveryError",
    "DeliveryMode",
    "DeliveryResult",
    "DeliveryStatus",
    "NetFeed",
    "SubscriptionLike",
    "decode_page_token",
    "deliver_resource",
    "delivered_columns",
    "deliveries_for_lineage",
    "delivery_view",
    "encode_page_token",
    "file_key",
    "last_done_version",
    "list_deliveries",
    "mask_column",
    "net_changes",
    "order_by_key",
    "pseudonymise",
    "pull_changes",
    "restrict_and_mask",
    "table_checksum",
    "target_recorded",
]
