"""OWASP API4:2023 Unrestricted Resource Consumption: idle and slow clients cannot stall the
server as gunicorn.conf.py runs it (with sync workers, two idle sockets stopped every request)."""

from bench.slowclients import attack
from tests.security.live import live_server


def test_idle_and_slow_sockets_do_not_stall_health_or_the_listing(database_url, tmp_path):
    with live_server(database_url, tmp_path, workers=2) as port:
        probes = attack(port, idle=100, slow=25, seconds=4, interval=0.1, timeout=3)
    for probe in probes:
        assert probe.failures == 0, probe.path
        assert len(probe.latencies) >= 10, probe.path
        assert probe.p99() < 1.0, (probe.path, probe.p99())
