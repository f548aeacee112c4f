"""rate-limit counters shared by every instance; refresh tokens that rotate

`rate_limit_hit` and `rate_limit_counter` back the `limits` library's storage interface
(shop/ratelimit.py), so "10 per minute" holds across workers and instances without a Redis.
`refresh_token` records every refresh token issued, so each can be used once and reuse of a
used one revokes its family.

Revision ID: 0005
Revises: 0002_week2_cart_orders
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002_week2_cart_orders"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "refresh_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_refresh_token_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_refresh_token")),
    )
    op.create_index("ix_refresh_token_family_id", "refresh_token", ["family_id"], unique=False)
    op.create_index("ix_refresh_token_expires_at", "refresh_token", ["expires_at"], unique=False)

    op.create_table(
        "rate_limit_hit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("hit_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hit")),
    )
    op.create_index(
        "ix_rate_limit_hit_key_hit_at", "rate_limit_hit", ["key", "hit_at"], unique=False
    )
    op.create_index("ix_rate_limit_hit_expires_at", "rate_limit_hit", ["expires_at"], unique=False)

    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
    )
    op.create_index(
        "ix_rate_limit_counter_expires_at", "rate_limit_counter", ["expires_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_rate_limit_counter_expires_at", table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
    op.drop_index("ix_rate_limit_hit_expires_at", table_name="rate_limit_hit")
    op.drop_index("ix_rate_limit_hit_key_hit_at", table_name="rate_limit_hit")
    op.drop_table("rate_limit_hit")
    op.drop_index("ix_refresh_token_expires_at", table_name="refresh_token")
    op.drop_index("ix_refresh_token_family_id", table_name="refresh_token")
    op.drop_table("refresh_token")
