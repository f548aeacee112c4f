"""A listing leaves nothing on its connection that changes the next request
(plan_cache_mode, an open transaction, autocommit), whether it succeeded or was refused."""

from sqlalchemy import text

from shop.extensions import db


def test_listings_leave_the_connection_as_they_found_it(app, client, make):
    make.ticket_type(make.event(title="Jazz"), price="100.00")
    urls = [
        "/api/events?minPrice=50&maxPrice=500",
        "/api/events?from=2020-01-01&to=2090-01-01",
        "/api/events?available=true",
        "/api/events?minPrice=50&q=jazz",
        "/api/events?minPrice=abc",
        "/api/events?minPrice=50&maxPrice=500&sort=-price&page=400",
    ]
    for url in urls * 7:  # past psycopg's prepare threshold (5)
        assert client.get(url).status_code in (200, 422)
        with app.app_context():
            setting = db.session.execute(text("SHOW plan_cache_mode")).scalar()
            raw = db.session.connection().connection.driver_connection
            assert (url, setting, raw.autocommit) == (url, "auto", False)
            db.session.rollback()
