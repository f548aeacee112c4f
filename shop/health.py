"""Health check: is the app up, and can it reach its database?"""

from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shop.extensions import db
from shop.openapi import Blueprint
from shop.schemas import ResponseSchema
from shop.services.errors import DatabaseUnavailable

blp = Blueprint(
    "health", __name__, url_prefix="/api/health", description="Liveness and database health"
)


class HealthSchema(ResponseSchema):
    status = fields.String(metadata={"enum": ["ok"]})
    database = fields.String(metadata={"enum": ["ok"]})


class HealthEnvelopeSchema(ResponseSchema):
    data = fields.Nested(HealthSchema)


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthEnvelopeSchema)
    @blp.alt_response(
        503, response="SERVICE_UNAVAILABLE", description="The database is unreachable"
    )
    def get(self):
        """Report whether the service and its database answer

        Render's health check calls this. It answers 503 while the database is unreachable and
        recovers by itself when the database comes back.
        """
        try:
            db.session.execute(text("SELECT 1"))
        except DBAPIError as error:
            db.session.rollback()
            raise DatabaseUnavailable(
                "The database is unreachable. The service retries by itself; try again shortly."
            ) from error
        return {"data": {"status": "ok", "database": "ok"}}
