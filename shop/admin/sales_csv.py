"""The sales report as a spreadsheet (`Accept: text/csv`): one row per ticket type."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response

from shop.pagination import Page

CSV_COLUMNS = (
    "event_id",
    "event_title",
    "starts_at",
    "event_status",
    "ticket_type_id",
    "ticket_type",
    "capacity",
    "sold",
    "held",
    "remaining",
    "revenue",
    "currency",
    "sell_through",
    "orders",
)


def sales_rows(report: Page) -> list[dict[str, Any]]:
    """The report flattened to one row per ticket type (for CSV)."""
    rows = []
    for event in report.items:
        for tier in event["ticket_types"]:
            rows.append(
                {
                    "event_id": event["event_id"],
                    "event_title": event["title"],
                    "starts_at": event["starts_at"].isoformat(),
                    "event_status": event["status"],
                    "ticket_type_id": tier["ticket_type_id"],
                    "ticket_type": tier["name"],
                    "capacity": tier["capacity"],
                    "sold": tier["sold"],
                    "held": tier["held"],
                    "remaining": tier["remaining"],
                    "revenue": str(tier["revenue"]["amount"]),
                    "currency": tier["revenue"]["currency"],
                    "sell_through": tier["sell_through"],
                    "orders": tier["orders"],
                }
            )
    return rows


def csv_response(rows: list[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else list(CSV_COLUMNS)
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def sales_csv(report: Page) -> Response:
    """The report's page as `sales.csv`."""
    return csv_response(sales_rows(report), "sales.csv")
