"""The cluster configurations of book/scale.md, checked as far as a machine without SLURM or Kubernetes allows.

The SLURM example must produce the job script a cluster would run (dask-jobqueue writes it
without submitting anything); the Kubernetes example must produce the DaskCluster resource
the operator would create (dask-kubernetes builds it without a cluster).
"""

from __future__ import annotations

from pathlib import Path

import pytest

SCALE_PAGE = Path(__file__).resolve().parents[1] / "book" / "scale.md"


def test_the_slurm_example_writes_a_gpu_job_script() -> None:
    jobqueue = pytest.importorskip("dask_jobqueue", reason="the [cluster] extra is not installed")
    assert 'SLURMCluster(queue="gpu", cores=8, memory="32GB", processes=1,' in SCALE_PAGE.read_text()
    cluster = jobqueue.SLURMCluster(
        queue="gpu", cores=8, memory="32GB", processes=1, job_extra_directives=["--gres=gpu:1"], walltime="10:00:00"
    )
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p gpu", "#SBATCH --cpus-per-task=8", "#SBATCH --gres=gpu:1", "#SBATCH -t 10:00:00"):
        assert line in script
    assert "distributed.cli.dask_worker" in script and cluster.scheduler_address.split(":")[0] in script


def test_the_kubernetes_example_describes_gpu_workers_with_the_shared_folders() -> None:
    operator = pytest.importorskip("dask_kubernetes.operator", reason="the [cluster] extra is not installed")
    assert 'KubeCluster(name="c2f", image="registry.example.org/coarse-to-fine:latest", n_workers=8,' in (
        SCALE_PAGE.read_text()
    )
    env = {"C2F_CACHE_DIR": "/shared/c2f-cache", "C2F_DATA_DIR": "/shared/c2f-data"}
    spec = operator.make_cluster_spec(
        name="c2f",
        image="registry.example.org/coarse-to-fine:latest",
        n_workers=8,
        env=env,
        resources={"limits": {"nvidia.com/gpu": "1"}},
    )
    worker = spec["spec"]["worker"]
    assert worker["replicas"] == 8
    container = worker["spec"]["containers"][0]
    assert container["image"] == "registry.example.org/coarse-to-fine:latest"
    assert {e["name"]: e["value"] for e in container["env"]} == env
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
