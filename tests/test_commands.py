"""Developer commands: create-admin and psql."""

from shop.services.passwords import verify_password


def test_create_admin_creates_an_admin_with_a_hashed_password(runner, sql):
    result = runner.invoke(
        args=["create-admin", "Boss@Example.com ", "--name", "Boss"],
        input="Very-Strong-42\nVery-Strong-42\n",
    )
    assert result.exit_code == 0, result.output
    row = sql("SELECT email, role, name, password_hash FROM app_user")[0]
    assert row["email"] == "boss@example.com"
    assert row["role"] == "admin" and row["name"] == "Boss"
    assert row["password_hash"] != "Very-Strong-42"
    assert verify_password(row["password_hash"], "Very-Strong-42")


def test_create_admin_promotes_an_existing_customer(runner, make, sql):
    user = make.user(email="pat@example.com")
    result = runner.invoke(args=["create-admin", "PAT@example.com", "--password", "Another-Pass-7"])
    assert result.exit_code == 0, result.output
    assert "Promoted" in result.output
    assert sql("SELECT role FROM app_user WHERE id = :id", id=user.id) == [{"role": "admin"}]


def test_create_admin_refuses_a_weak_password(runner, sql):
    result = runner.invoke(args=["create-admin", "weak@example.com", "--password", "aaaaaaaa"])
    assert result.exit_code == 2
    assert "two kinds of characters" in result.output
    assert sql("SELECT count(*) AS n FROM app_user") == [{"n": 0}]


def test_psql_command_runs_sql_on_the_configured_database(runner, capfd):
    result = runner.invoke(args=["psql", "-tAc", "SELECT current_database()"])
    assert result.exit_code == 0
    assert capfd.readouterr().out.strip() == "shop_test"
