"""holds are a scarce resource with owners: hold life, guest cart address, max per customer

`cart.hold_started_at` bounds a hold's whole life (lapsing and restarting does not reset it);
`cart.client_address` records which client address created a guest cart, so one address holds
a bounded number of seats across all its guest carts; `ticket_type.max_per_customer` caps what
one customer may buy of a tier across their confirmed orders.

Revision ID: 0006_hold_caps
Revises: 0005_price_index_start
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_hold_caps"
down_revision = "0005_price_index_start"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cart", sa.Column("hold_started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cart", sa.Column("client_address", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_cart_active_guest_client_address",
        "cart",
        ["client_address"],
        unique=False,
        postgresql_where=sa.text("status = 'active' AND user_id IS NULL"),
    )
    op.add_column("ticket_type", sa.Column("max_per_customer", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_ticket_type_max_per_customer_range"),
        "ticket_type",
        "max_per_customer IS NULL OR max_per_customer BETWEEN 1 AND 1000",
    )


def downgrade():
    op.drop_constraint(op.f("ck_ticket_type_max_per_customer_range"), "ticket_type", type_="check")
    op.drop_column("ticket_type", "max_per_customer")
    op.drop_index(
        "ix_cart_active_guest_client_address",
        table_name="cart",
        postgresql_where=sa.text("status = 'active' AND user_id IS NULL"),
    )
    op.drop_column("cart", "client_address")
    op.drop_column("cart", "hold_started_at")
