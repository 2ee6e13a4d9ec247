"""Wall-clock timing of the operator scripts (ctest label `timing`, which the sanitizer run
leaves out): supervisord has a killed server RUNNING again within 3 s. That it comes back at
all, also in the middle of a client run, is tested in test_scripts.py."""
import datetime
import os
import signal

from test_scripts import running_since, server_pids, supervised
from zlbtest import main, wait_for


def test_supervisord_restarts_within_3s():
    with supervised(2, "cpu", "--threads", "1") as (conf, run_dir, _, pids):
        victim = "zlb-server:zlb-server_01"
        killed_wall = datetime.datetime.now()
        os.kill(pids[victim], signal.SIGKILL)
        wait_for(lambda: server_pids(conf).get(victim, pids[victim]) != pids[victim], 10,
                 "supervisord to restart the killed server")
        # Timed by supervisord's own log, so the latency of polling supervisorctl doesn't count.
        back = (running_since(run_dir, "zlb-server_01", killed_wall) - killed_wall)
        assert back.total_seconds() < 3.0, f"restart took {back.total_seconds():.1f} s"


if __name__ == "__main__":
    main([test_supervisord_restarts_within_3s])
