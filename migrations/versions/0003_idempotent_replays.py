"""idempotent replays: the stored answer keeps its exact bytes and its headers

`idempotency_key.response_body` becomes the response body as sent (bytea, was JSONB, which
reorders keys and drops whitespace) and `response_headers` keeps the headers (`Location`,
`Content-Type`), so a replay is the very same answer.

Revision ID: 0003
Revises: 0005 (rate limits and refresh rotation)
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.alter_column(
        "idempotency_key",
        "response_body",
        type_=sa.LargeBinary(),
        existing_nullable=True,
        postgresql_using="convert_to(response_body::text, 'UTF8')",
    )
    op.add_column(
        "idempotency_key",
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade():
    op.drop_column("idempotency_key", "response_headers")
    op.alter_column(
        "idempotency_key",
        "response_body",
        type_=postgresql.JSONB(astext_type=sa.Text()),
        existing_nullable=True,
        postgresql_using="convert_from(response_body, 'UTF8')::jsonb",
    )
