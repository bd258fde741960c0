"""``diagnose --scheduler ADDRESS``: the sweep's per-run work on a Dask cluster (a LocalCluster
started here, one in-process worker) gives the report a local sweep gives, byte for byte, for a
local folder and for an s3:// prefix read by the worker."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from nndoctor import cluster
from nndoctor import sweep as local_sweep
from nndoctor.cli import main

distributed = pytest.importorskip("distributed")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for i, name in enumerate(["healthy", "overfitting", "exploding", "mlflow_sqlite",
                              "console_keras", "healthy"]):
        shutil.copytree(EXAMPLES / name, root / f"run{i}_{name}")
    return root


def _report(tmp_path: Path, args: list[str], name: str) -> bytes:
    out = tmp_path / name
    assert main(["diagnose", *args, "--format", "json", "--no-progress", "-o", str(out)]) == 0
    return out.read_bytes()


def test_a_local_folder_on_the_cluster_reads_as_a_local_sweep(scheduler, sweep, tmp_path,
                                                              monkeypatch) -> None:
    monkeypatch.setattr(cluster, "BATCH", 2)  # several cluster tasks, results kept in order
    local = _report(tmp_path, [str(sweep), str(EXAMPLES / "slow_lr")], "local.json")
    remote = _report(tmp_path, [str(sweep), str(EXAMPLES / "slow_lr"),
                                "--scheduler", scheduler], "cluster.json")
    assert remote == local
    assert local.count(b'"path"') == 7


def test_an_s3_prefix_is_read_by_the_workers(scheduler, tmp_path, monkeypatch) -> None:
    moto_server = pytest.importorskip("moto.server")
    fsspec = pytest.importorskip("fsspec")
    pytest.importorskip("s3fs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": f"http://127.0.0.1:{port}",
                                                   "key": "testing", "secret": "testing"})
    try:
        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir("cluster-bucket")  # moto keeps buckets per process: not the other tests' one
        local = tmp_path / "runs"
        for name in ("healthy", "overfitting", "exploding"):
            shutil.copytree(EXAMPLES / name, local / name)
        fs.put(str(local) + "/", "cluster-bucket/runs/", recursive=True)
        read = []
        real = local_sweep.run_task  # what the cluster's batches run (sweep.run_batch)
        monkeypatch.setattr(local_sweep, "run_task",
                            lambda task, options: (read.append(task.url), real(task, options))[1])
        url = "s3://cluster-bucket/runs/"
        here = _report(tmp_path, [url], "here.json")
        there = _report(tmp_path, [url, "--scheduler", scheduler], "there.json")
        assert there == here
        assert sorted(read) == [f"s3://cluster-bucket/runs/{n}/"
                                for n in ("exploding", "healthy", "overfitting")]
    finally:
        server.stop()


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    code = main(["diagnose", str(EXAMPLES / "healthy"), "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith(f"nndoctor: --scheduler tcp://127.0.0.1:{port}: cannot reach")
    assert "\n" not in err


def test_without_dask_it_says_which_extra(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    code = main(["diagnose", str(EXAMPLES / "healthy"), "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2
    assert "pip install 'nndoctor[cluster]'" in capsys.readouterr().err
