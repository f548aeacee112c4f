"""week 2: carts, orders, tickets and auth (ERD v2)

Carts and their lines (the seat holds), orders with snapshot lines, one ticket per seat,
revoked JWTs and idempotency keys for checkout.

Revision ID: 0002_week2_cart_orders
Revises: 0001_week1_catalogue
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0002_week2_cart_orders"
down_revision = "0001_week1_catalogue"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cart",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("guest_token_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_renewals", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'merged', 'checked_out', 'abandoned')",
            name=op.f("ck_cart_status_valid"),
        ),
        sa.CheckConstraint("hold_renewals >= 0", name=op.f("ck_cart_hold_renewals_not_negative")),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR guest_token_hash IS NOT NULL",
            name=op.f("ck_cart_has_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_cart_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart")),
        sa.UniqueConstraint("guest_token_hash", name=op.f("uq_cart_guest_token_hash")),
    )
    op.create_index(
        "ix_cart_active_hold",
        "cart",
        ["hold_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "uq_cart_active_user",
        "cart",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active' AND user_id IS NOT NULL"),
    )

    op.create_table(
        "cart_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_item_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_cart_item_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["cart.id"],
            name=op.f("fk_cart_item_cart_id_cart"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "ticket_type_id"],
            ["ticket_type.event_id", "ticket_type.id"],
            name=op.f("fk_cart_item_event_id_ticket_type_id_ticket_type"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_cart_item_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cart_item")),
        sa.UniqueConstraint(
            "cart_id",
            "ticket_type_id",
            name=op.f("uq_cart_item_cart_id_ticket_type_id"),
        ),
    )
    op.create_index("ix_cart_item_ticket_type_id", "cart_item", ["ticket_type_id"], unique=False)

    op.create_table(
        "customer_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="confirmed", nullable=False),
        sa.Column("total", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name=op.f("ck_customer_order_cancelled_at_matches_status"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ck_customer_order_currency_format")
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'cancelled')",
            name=op.f("ck_customer_order_status_valid"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_customer_order_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["cart.id"],
            name=op.f("fk_customer_order_cart_id_cart"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_customer_order_user_id_app_user"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_order")),
        sa.UniqueConstraint("cart_id", name=op.f("uq_customer_order_cart_id")),
    )
    op.create_index(
        "ix_customer_order_user_created",
        "customer_order",
        ["user_id", "created_at", "id"],
        unique=False,
    )

    op.create_table(
        "order_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=False),
        sa.Column("event_title", sa.String(length=200), nullable=False),
        sa.Column("event_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ticket_type_name", sa.String(length=100), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("line_total", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.CheckConstraint(
            "line_total = unit_price * quantity",
            name=op.f("ck_order_item_line_total_matches"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_item_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_order_item_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_order_item_event_id_event"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["customer_order.id"],
            name=op.f("fk_order_item_order_id_customer_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_order_item_ticket_type_id_ticket_type"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_item")),
        sa.UniqueConstraint(
            "order_id",
            "ticket_type_id",
            name=op.f("uq_order_item_order_id_ticket_type_id"),
        ),
    )
    op.create_index("ix_order_item_event_id", "order_item", ["event_id"], unique=False)
    op.create_index("ix_order_item_ticket_type_id", "order_item", ["ticket_type_id"], unique=False)

    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_item_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="valid", nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'used') = (checked_in_at IS NOT NULL)",
            name=op.f("ck_ticket_checked_in_matches"),
        ),
        sa.CheckConstraint("code ~ '^[A-Z2-7]{32}$'", name=op.f("ck_ticket_code_format")),
        sa.CheckConstraint(
            "status IN ('valid', 'used', 'void')", name=op.f("ck_ticket_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_item.id"],
            name=op.f("fk_ticket_order_item_id_order_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("code", name=op.f("uq_ticket_code")),
    )
    op.create_index("ix_ticket_order_item_id", "ticket", ["order_item_id"], unique=False)

    op.create_table(
        "revoked_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("token_type", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "revoked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "token_type IN ('access', 'refresh')",
            name=op.f("ck_revoked_token_token_type_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_revoked_token_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_token")),
    )
    op.create_index("ix_revoked_token_expires_at", "revoked_token", ["expires_at"], unique=False)

    op.create_table(
        "idempotency_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(completed_at IS NULL) = (response_status IS NULL)",
            name=op.f("ck_idempotency_key_completed_has_response"),
        ),
        sa.CheckConstraint(
            "length(key) BETWEEN 1 AND 255", name=op.f("ck_idempotency_key_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_idempotency_key_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_idempotency_key_user_id_key")),
    )
    op.create_index(
        "ix_idempotency_key_created_at", "idempotency_key", ["created_at"], unique=False
    )


def downgrade():
    op.drop_table("idempotency_key")
    op.drop_table("revoked_token")
    op.drop_table("ticket")
    op.drop_table("order_item")
    op.drop_table("customer_order")
    op.drop_table("cart_item")
    op.drop_table("cart")
